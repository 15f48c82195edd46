//! The one decision behind every answer and its explanation: [`parse`] the query,
//! [`resolve`] what it names, [`place`] the client, seed the draw and
//! [`choose`](crate::select::choose_in) the mirrors. A metalink or mirrorlist renders the
//! [`Chosen`] list; `/explain` renders all of it ([`Chosen::explain`]): the explanation is
//! the answer's own decision, not a second run of the steps.

use crate::explain::{self, Asked, Explanation, Placed};
use crate::loaded::Loaded;
use crate::parse::{self, Params};
use crate::place;
use crate::refusal::Refusal;
use crate::resolve::{self, Form, Target};
use crate::select::{self, Choice, Client, Limits};
use crate::state::{AppState, View};
use std::net::{IpAddr, SocketAddr};

/// What a request brings to the decision.
#[derive(Clone, Copy)]
pub struct Request<'r> {
    pub form: Form<'r>,
    pub query: Option<&'r str>,
    pub headers: &'r http::HeaderMap,
    /// The connection's remote address.
    pub peer: SocketAddr,
}

impl<'r> Request<'r> {
    pub fn of<B>(form: Form<'r>, req: &'r http::Request<B>, peer: SocketAddr) -> Request<'r> {
        Request {
            form,
            query: req.uri().query(),
            headers: req.headers(),
            peer,
        }
    }
}

/// What a request gets, on the snapshot in use.
pub struct Decision<'v> {
    pub loaded: &'v Loaded,
    pub params: Params,
    pub way: Way,
}

/// Mirrors, or the vault.
pub enum Way {
    /// A release only the vault has: its URL, and its directory when the catalog has it.
    Vault {
        url: String,
        dir: Option<usize>,
    },
    Mirrors(Chosen),
}

/// The mirrors chosen for a placed client, with everything the choice was made from.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The directory; with `any_arch`, every arch's mirrors of its release and repo.
    pub dir: usize,
    pub any_arch: bool,
    /// The protocol bits asked for.
    pub protocols: u8,
    pub client: Client,
    pub placed: Placed,
    pub limits: Limits,
    /// A fixed seed: the same request gets the same answer.
    pub deterministic: bool,
    /// The answer, best first.
    pub choices: Vec<Choice>,
}

/// Decides what `req` gets from the snapshot in `view`. Inlined into its two callers, so
/// the decision is built in place rather than moved.
#[inline(always)]
pub fn decide<'v>(
    state: &AppState,
    view: &'v View,
    req: Request<'_>,
) -> Result<Decision<'v>, Refusal> {
    let params = parse::query(req.query)?;
    let Some(loaded) = view.loaded.as_deref() else {
        return Err(Refusal::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "error: no snapshot is loaded yet",
        ));
    };
    if let Some(reason) = loaded.refusal(state.settings().refuse_older_than) {
        let message = format!("error: {reason}");
        return Err(Refusal::new(http::StatusCode::SERVICE_UNAVAILABLE, message));
    }
    let (dir, any_arch) =
        match resolve::resolve(&loaded.routes, &loaded.snapshot.catalog, req.form, &params)? {
            Target::Dir { index, templated } => (index, templated),
            Target::Vault { url, dir } => {
                let way = Way::Vault { url, dir };
                return Ok(Decision {
                    loaded,
                    params,
                    way,
                });
            }
        };
    let client = place::place(state, view, req.peer, req.headers, &params)?;
    let placed = placed(&params, &client, view.geo.is_some());
    let settings = state.settings();
    let ask = Ask {
        dir,
        any_arch,
        protocols: params.protocols,
        limits: settings.limits,
        deterministic: settings.seed.is_some(),
    };
    let seed = seed(settings.seed, client.ip, dir);
    let way = Way::Mirrors(choose(loaded, ask, client, placed, seed));
    Ok(Decision {
        loaded,
        params,
        way,
    })
}

/// What is asked of the choice, besides the client.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub dir: usize,
    pub any_arch: bool,
    pub protocols: u8,
    pub limits: Limits,
    pub deterministic: bool,
}

/// The choice for a placed client: pure, given the seed.
#[inline]
pub fn choose(loaded: &Loaded, ask: Ask, client: Client, placed: Placed, seed: u64) -> Chosen {
    let choices = select::choose_in(
        &loaded.index,
        loaded
            .index
            .candidates(&loaded.snapshot, ask.dir, ask.any_arch),
        &client,
        ask.protocols,
        ask.limits,
        seed,
    );
    Chosen {
        dir: ask.dir,
        any_arch: ask.any_arch,
        protocols: ask.protocols,
        client,
        placed,
        limits: ask.limits,
        deterministic: ask.deterministic,
        choices,
    }
}

impl Chosen {
    /// Every mirror of the snapshot accounted for: this answer's, with their tiers, and the
    /// others with the first reason that kept each out.
    pub fn explain(&self, loaded: &Loaded) -> Explanation {
        let asked = Asked {
            dir: self.dir,
            any_arch: self.any_arch,
            client: &self.client,
            protocols: self.protocols,
            limits: self.limits,
            placed: self.placed,
            deterministic: self.deterministic,
        };
        explain::account(&loaded.snapshot, &loaded.index, &asked, &self.choices)
    }
}

/// How the client came to be where it was placed.
fn placed(params: &Params, client: &Client, geo_loaded: bool) -> Placed {
    if !params.countries.is_empty() {
        Placed::CountryParameter
    } else if params.global {
        Placed::Global
    } else if client.ip.is_none() {
        Placed::NoAddress
    } else if !geo_loaded {
        Placed::NoGeoIp
    } else if client.country == 0 {
        Placed::NotInGeoIp
    } else {
        Placed::GeoIp
    }
}

/// The seed of a request's draw. A configured seed is mixed with the client's network (its
/// /24, or /48 for IPv6) and the directory: replicas agree, one network gets one answer, and
/// clients in different networks get different draws, so load spreads by bandwidth. Without
/// one, every request draws afresh.
pub fn seed(configured: Option<u64>, ip: Option<IpAddr>, dir: usize) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(seed) = configured else {
        return u64::from(shared::time::clock_noise())
            ^ NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    };
    let network = match ip.map(shared::net::unmapped) {
        Some(IpAddr::V4(a)) => u128::from(u32::from(a) & 0xffff_ff00),
        Some(IpAddr::V6(a)) => (u128::from(a) >> 80) | (1 << 64),
        None => 0,
    };
    mix(
        mix(mix(seed, network as u64), (network >> 64) as u64),
        dir as u64,
    )
}

/// One SplitMix64 step over `a` and `b`: a well-spread 64-bit hash of the pair.
fn mix(a: u64, b: u64) -> u64 {
    use crate::select::choose::{splitmix, GOLDEN};
    splitmix(a ^ b.wrapping_add(GOLDEN))
}
