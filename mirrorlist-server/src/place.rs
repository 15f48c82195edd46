//! Placing the client: its address (the peer's, or what a trusted proxy forwarded: see
//! [`shared::proxy`]), then
//! where it is (country, continent, coordinates from GeoIP; its ASN), reduced to integer
//! codes for the choice. The `country` parameter overrides GeoIP.

use crate::parse::Params;
use crate::refusal::Refusal;
use crate::select::Client;
use crate::state::{AppState, View};
use std::net::SocketAddr;

/// Where the client of a request is, as far as the databases in `view` know.
pub fn place(
    state: &AppState,
    view: &View,
    peer: SocketAddr,
    headers: &http::HeaderMap,
    params: &Params,
) -> Result<Client, Refusal> {
    let settings = state.settings();
    let mut ip = shared::proxy::client_ip(peer, headers, &settings.trusted_proxies);
    if let Some(given) = &params.ip {
        if settings.allow_ip_param {
            ip = Some(given.parse().map_err(|_| {
                Refusal::bad_request(format!("error: ip={given} is not an address"))
            })?);
        }
    }
    let mut c = Client {
        ip,
        skip_networks: !params.netblock,
        ..Client::default()
    };
    // A trusted proxy that does not know the client's address: placed nowhere.
    let Some(ip) = ip else {
        return Ok(with_country(c, params));
    };
    match view.geo.as_ref().and_then(|g| g.lookup(ip)) {
        Some(loc) => {
            // A country without coordinates: its centroid.
            c.coordinates = loc
                .coordinates()
                .or_else(|| shared::geo::centroid_of_code(loc.country));
            c.country = loc.country;
            c.continent = loc.continent;
        }
        None => state.metrics().geoip_misses.inc(),
    }
    c.asn = view.asn.as_ref().and_then(|a| a.lookup(ip));
    c.cloud = view.cloud.as_ref().and_then(|r| r.lookup(ip)).cloned();
    Ok(with_country(c, params))
}

/// The `country` parameter, which overrides GeoIP.
fn with_country(mut c: Client, params: &Params) -> Client {
    if let Some((&country, also)) = params.countries.split_first() {
        c.country = country;
        c.also = also.to_vec();
        c.continent = shared::geo::continent_of_code(country);
        c.coordinates = None;
    } else if params.global {
        (c.country, c.continent, c.coordinates) = (0, 0, None);
        c.global = true;
    }
    c
}
