//! A mirror's `subnets` given as a URL: fetched with each check of the mirror (within the
//! client's size and time bounds), read as a JSON list of networks. The store keeps the last
//! good list when a fetch fails and logs each change.

use super::fetch::fetch_plain;
use super::CrawlConfig;
use crate::http::HttpClient;
use ipnet::IpNet;
use url::Url;

/// More networks than this in one list is refused (a mistake, or an attempt to make every
/// client this mirror's).
pub const MAX_NETWORKS: usize = 10_000;

/// Fetches and reads `url`; the error says why, for the operator.
pub(super) async fn fetch(
    client: &HttpClient,
    url: &str,
    config: &CrawlConfig,
) -> Result<Vec<IpNet>, String> {
    let url = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let f = fetch_plain(client, &url, config)
        .await
        .map_err(|e| shared::text::reason(&e.to_string()))?;
    if f.status != 200 {
        return Err(format!("HTTP {}", f.status));
    }
    parse(&f.body).map_err(|e| shared::text::reason(&e))
}

/// A JSON list of networks (`"192.0.2.0/24"`, or a bare address for one host).
pub fn parse(body: &[u8]) -> Result<Vec<IpNet>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON list of networks ({e})"))?;
    if list.len() > MAX_NETWORKS {
        return Err(format!(
            "{} networks, more than the {MAX_NETWORKS} accepted",
            list.len()
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let text = v.as_str().unwrap_or_default().trim();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                let shown: String = v.to_string().chars().take(60).collect();
                format!("entry {} is not a network: {}", i + 1, shown.escape_debug())
            })?;
        if net.prefix_len() == 0 {
            return Err(format!("entry {} is the whole Internet ({net})", i + 1));
        }
        out.push(net.trunc());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_of_networks_are_read_and_anything_else_refused() {
        assert_eq!(
            parse(br#"["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "192.0.2.9/24"]"#)
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"]
        );
        for (body, why) in [
            (&b"<html>"[..], "not a JSON list of networks"),
            (b"{\"a\": 1}", "not a JSON list of networks"),
            (b"[\"192.0.2.0/24\", 7]", "entry 2 is not a network: 7"),
            (b"[\"0.0.0.0/0\"]", "the whole Internet"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let many = format!("[{}]", vec!["\"192.0.2.1\""; MAX_NETWORKS + 1].join(","));
        assert!(parse(many.as_bytes()).unwrap_err().contains("more than"));
    }
}
