//! mirror-sim: a whole mirror network on loopback, built from a registry and a catalog. The
//! master tree and every mirror answer over HTTP and HTTPS (with certificates from the sim's
//! own CA), each mirror with a deterministic behaviour: current, behind, missing repos, 404,
//! 500, slow, hanging, truncated, oversized, redirect loops, self-signed, refusing. The
//! master can publish a new version at any moment. Tests, benchmarks and the demo use it.

pub mod attack;
pub mod bench;
pub mod cli;
pub mod plain;
pub mod proxy;
pub mod repo;
pub mod scenario;
pub mod server;
pub mod tls;
pub mod webhook;

pub use scenario::{Behavior, Families, Mix, Profile};
pub use server::MASTER_HOST;

use server::{SimMirror, State, Stats};
use shared::catalog::Catalog;
use shared::registry::{Mirror, Protocol};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    pub mix: Mix,
    /// Behaviours forced for named mirrors.
    pub overrides: HashMap<String, Profile>,
    /// The master's first version (1 or more).
    pub initial_version: u32,
    /// Address to listen on for IPv4.
    pub listen_v4: std::net::Ipv4Addr,
    /// Also listen on [::1] when the machine has it.
    pub ipv6: bool,
    /// Fixed ports (HTTP, HTTPS), or 0 for any.
    pub ports: (u16, u16),
    /// The packages every repository lists (real RPMs: [`repo::Packages::build`]).
    pub packages: repo::Packages,
    /// The proxy's port (0: any).
    pub proxy_port: u16,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            mix: Mix::Realistic,
            overrides: HashMap::new(),
            initial_version: 1,
            listen_v4: std::net::Ipv4Addr::LOCALHOST,
            ipv6: true,
            ports: (0, 0),
            packages: repo::Packages::synthetic(),
            proxy_port: 0,
        }
    }
}

/// A static route for the checker: requests for `host:port` go to `addrs`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
}

pub struct Sim {
    state: Arc<State>,
    pub http_v4: SocketAddr,
    pub https_v4: SocketAddr,
    pub http_v6: Option<SocketAddr>,
    pub https_v6: Option<SocketAddr>,
    /// A loopback address where nothing listens.
    pub refused: SocketAddr,
    /// The HTTP proxy that reaches the simulated hosts by name ([`proxy`]).
    pub proxy: SocketAddr,
    ca_pem: String,
    routes: Vec<Route>,
    modules: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn base_path(url: &str) -> Option<(String, String, u16)> {
    let u = url::Url::parse(url).ok()?;
    Some((
        u.host_str()?.to_ascii_lowercase(),
        u.path().to_string(),
        u.port_or_known_default()?,
    ))
}

impl Sim {
    /// Starts the listeners and serves `mirrors` (enabled or not) carrying `catalog`.
    pub async fn start(
        catalog: &Catalog,
        mirrors: &[Mirror],
        options: SimOptions,
    ) -> anyhow::Result<Sim> {
        let names: Vec<String> = mirrors.iter().map(|m| m.name.clone()).collect();
        let http_v4 = TcpListener::bind((options.listen_v4, options.ports.0)).await?;
        let https_v4 = TcpListener::bind((options.listen_v4, options.ports.1)).await?;
        let (http_v6, https_v6) = if options.ipv6 {
            match (
                TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, http_v4.local_addr()?.port()))
                    .await,
                TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, https_v4.local_addr()?.port()))
                    .await,
            ) {
                (Ok(a), Ok(b)) => (Some(a), Some(b)),
                _ => (None, None),
            }
        } else {
            (None, None)
        };
        let has_v6 = http_v6.is_some();
        let refused = {
            let l = std::net::TcpListener::bind((options.listen_v4, 0))?;
            l.local_addr()?
        };
        let profiles = scenario::assign(
            &names,
            options.seed,
            options.mix,
            has_v6,
            &options.overrides,
        );

        let mut directories: HashMap<String, HashSet<String>> = HashMap::new();
        for (_, d) in catalog.mirrored() {
            directories
                .entry(d.module.clone().unwrap_or_default())
                .or_default()
                .insert(d.path.clone());
        }
        let modules: Vec<String> = directories
            .keys()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect();
        let addr = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        let (a_http_v4, a_https_v4, a_http_v6, a_https_v6) = (
            http_v4.local_addr()?,
            https_v4.local_addr()?,
            addr(&http_v6),
            addr(&https_v6),
        );

        let mut sim_mirrors = Vec::new();
        let mut by_host = HashMap::new();
        let mut routes: BTreeMap<(String, u16), Vec<SocketAddr>> = BTreeMap::new();
        let mut self_signed = HashSet::new();
        for m in mirrors {
            let profile = profiles[&m.name];
            let mut bases = Vec::new();
            let all =
                m.urls
                    .iter()
                    .map(|(p, u)| (None, *p, u))
                    .chain(m.module_urls.iter().flat_map(|(module, urls)| {
                        urls.iter().map(move |(p, u)| (Some(module.clone()), *p, u))
                    }));
            for (module, protocol, url) in all {
                if !protocol.is_web() {
                    continue;
                }
                let Some((host, path, port)) = base_path(url) else {
                    continue;
                };
                let (v4, v6) = match protocol {
                    Protocol::Https => (a_https_v4, a_https_v6),
                    _ => (a_http_v4, a_http_v6),
                };
                let addrs = match (profile.behavior, profile.families) {
                    (Behavior::Refused, _) => vec![refused],
                    (_, Families::V4) => vec![v4],
                    (_, Families::V6) => v6.into_iter().collect(),
                    (_, Families::Dual) => std::iter::once(v4).chain(v6).collect(),
                };
                routes.insert((host.clone(), port), addrs);
                if profile.behavior == Behavior::SelfSigned {
                    self_signed.insert(host.clone());
                }
                by_host.insert(host, sim_mirrors.len());
                bases.push((protocol.as_str().to_string(), path, module));
            }
            sim_mirrors.push(SimMirror {
                name: m.name.clone(),
                profile,
                bases,
                stats: Stats::default(),
            });
        }
        routes.insert((MASTER_HOST.to_string(), 80), vec![a_http_v4]);
        let certs = Arc::new(tls::CertStore::new(self_signed)?);
        let ca_pem = certs.ca_pem();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certs);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_tls));
        let state = Arc::new(State {
            mirrors: sim_mirrors,
            by_host,
            directories,
            vault: catalog
                .directories
                .iter()
                .filter(|d| d.vault)
                .map(|d| d.path.clone())
                .collect(),
            version: std::sync::atomic::AtomicU32::new(options.initial_version.max(1)),
            published_at: std::sync::Mutex::new({
                let now = shared::time::now();
                let first = options.initial_version.max(1) as i64;
                (0..=first).map(|v| now - (first - v) * 3600).collect()
            }),
            master_stats: Stats::default(),
            repos: repo::Repos::new(options.packages.clone()),
        });
        let mut tasks = vec![
            tokio::spawn(server::serve(http_v4, state.clone(), "http", None)),
            tokio::spawn(server::serve(
                https_v4,
                state.clone(),
                "https",
                Some(acceptor.clone()),
            )),
        ];
        if let (Some(h), Some(s)) = (http_v6, https_v6) {
            tasks.push(tokio::spawn(server::serve(h, state.clone(), "http", None)));
            tasks.push(tokio::spawn(server::serve(
                s,
                state.clone(),
                "https",
                Some(acceptor),
            )));
        }
        let routes: Vec<Route> = routes
            .into_iter()
            .map(|((host, port), addrs)| Route { host, port, addrs })
            .collect();
        let proxy_listener = TcpListener::bind((options.listen_v4, options.proxy_port)).await?;
        let proxy = proxy_listener.local_addr()?;
        tasks.push(tokio::spawn(proxy::serve(
            proxy_listener,
            proxy::Targets::new(&routes),
        )));
        Ok(Sim {
            state,
            proxy,
            http_v4: a_http_v4,
            https_v4: a_https_v4,
            http_v6: a_http_v6,
            https_v6: a_https_v6,
            refused,
            ca_pem,
            routes,
            modules,
            tasks,
        })
    }

    /// The static routes a checker needs to reach every simulated host.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The master tree's base URL.
    pub fn master_url(&self) -> String {
        format!("http://{MASTER_HOST}/")
    }

    /// The vault's base URL: the vault releases' directories at version 1.
    pub fn vault_url(&self) -> String {
        format!("http://{MASTER_HOST}/vault/")
    }

    /// Base URLs of the master's module trees.
    pub fn master_module_urls(&self) -> BTreeMap<String, String> {
        self.modules
            .iter()
            .map(|m| (m.clone(), format!("http://{MASTER_HOST}/{m}/")))
            .collect()
    }

    /// The master publishes a new version of every directory; returns it.
    pub fn publish(&self) -> u32 {
        self.state.publish()
    }

    pub fn version(&self) -> u32 {
        self.state.version.load(Ordering::SeqCst)
    }

    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.state
            .mirrors
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.profile)
    }

    /// Every mirror's name and profile.
    pub fn profiles(&self) -> Vec<(String, Profile)> {
        self.state
            .mirrors
            .iter()
            .map(|m| (m.name.clone(), m.profile))
            .collect()
    }

    /// (requests, 304 answers, body bytes) a mirror has served.
    pub fn stats(&self, name: &str) -> (u64, u64, u64) {
        self.state
            .mirrors
            .iter()
            .find(|m| m.name == name)
            .map_or((0, 0, 0), |m| {
                (
                    m.stats.requests.load(Ordering::Relaxed),
                    m.stats.not_modified.load(Ordering::Relaxed),
                    m.stats.bytes.load(Ordering::Relaxed),
                )
            })
    }

    /// Requests served by all mirrors (not the master).
    pub fn total_requests(&self) -> u64 {
        self.state
            .mirrors
            .iter()
            .map(|m| m.stats.requests.load(Ordering::Relaxed))
            .sum()
    }

    pub fn total_not_modified(&self) -> u64 {
        self.state
            .mirrors
            .iter()
            .map(|m| m.stats.not_modified.load(Ordering::Relaxed))
            .sum()
    }
}

/// Every repomd.xml URL the enabled mirrors should carry: what a crawler checks.
pub fn repomd_urls(catalog: &Catalog, mirrors: &[Mirror]) -> Vec<String> {
    let mut out = Vec::new();
    for m in mirrors.iter().filter(|m| m.enabled) {
        for p in [Protocol::Http, Protocol::Https] {
            for (_, d) in catalog.mirrored() {
                if let Some(base) = m.base_url(d.module.as_deref(), p) {
                    out.push(format!("{base}{}/repodata/repomd.xml", d.path));
                }
            }
        }
    }
    out
}
