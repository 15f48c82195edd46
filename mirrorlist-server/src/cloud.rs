//! Cloud providers' published address ranges: which provider and region a client address
//! belongs to, so that clients inside a cloud get that provider's in-region mirrors first.
//! Each file is read in its provider's own format (recognised by its content), configured as
//! `PROVIDER=FILE` where PROVIDER is the registry's `cloud_type`, and read again when it
//! changes, like the GeoIP databases.
//!
//! - AWS `ip-ranges.json`: `prefixes[]` of `{ip_prefix, region}`, `ipv6_prefixes[]` of
//!   `{ipv6_prefix, region}`;
//! - GCP `cloud.json`: `prefixes[]` of `{ipv4Prefix | ipv6Prefix, scope}` (scope: the region);
//! - Azure Service Tags: `values[]` of `{properties: {region, addressPrefixes[]}}` (a tag
//!   without a region covers the whole cloud);
//! - OCI `public_ip_ranges.json`: `regions[]` of `{region, cidrs[]: {cidr}}`.

use crate::netblocks::NetblockIndex;
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a client is in a cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudPlace {
    /// The registry's `cloud_type` this file was configured for (`aws`, `gcp`, ...).
    pub provider: Arc<str>,
    /// The provider's region name; empty for ranges of no one region.
    pub region: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{path}: cannot read the cloud ranges: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// `PROVIDER=FILE`, as given on the command line.
pub fn parse_arg(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((provider, file)) if !provider.trim().is_empty() && !file.trim().is_empty() => Ok((
            provider.trim().to_ascii_lowercase(),
            PathBuf::from(file.trim()),
        )),
        _ => Err(format!(
            "{text:?}: expected PROVIDER=FILE, PROVIDER as in the registry's cloud_type (aws=/etc/mirrorlist/ip-ranges.json)"
        )),
    }
}

/// The ranges of one file: (network, region).
pub fn parse(bytes: &[u8]) -> Result<Vec<(IpNet, String)>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let mut out: Vec<(Option<String>, String)> = Vec::new();
    if let Some(values) = doc.get("values").and_then(Value::as_array) {
        // Azure Service Tags.
        for tag in values {
            let props = tag.get("properties");
            let region = props.and_then(|p| text(p, "region")).unwrap_or_default();
            for prefix in props
                .and_then(|p| p.get("addressPrefixes"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push((prefix.as_str().map(str::to_string), region.clone()));
            }
        }
    } else if let Some(regions) = doc.get("regions").and_then(Value::as_array) {
        // OCI.
        for r in regions {
            let region = text(r, "region").unwrap_or_default();
            for c in r
                .get("cidrs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push((text(c, "cidr"), region.clone()));
            }
        }
    } else if doc.get("prefixes").is_some() || doc.get("ipv6_prefixes").is_some() {
        // AWS and GCP.
        for key in ["prefixes", "ipv6_prefixes"] {
            for p in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                let net = ["ip_prefix", "ipv6_prefix", "ipv4Prefix", "ipv6Prefix"]
                    .iter()
                    .find_map(|k| text(p, k));
                let region = text(p, "region")
                    .or_else(|| text(p, "scope"))
                    .unwrap_or_default();
                out.push((net, region));
            }
        }
    } else {
        return Err(
            "not a cloud provider's ranges file (AWS ip-ranges.json, GCP cloud.json, Azure Service Tags or OCI public_ip_ranges.json)"
                .into(),
        );
    }
    let mut nets = Vec::with_capacity(out.len());
    for (i, (net, region)) in out.into_iter().enumerate() {
        let net = net
            .as_deref()
            .and_then(|n| n.trim().parse::<IpNet>().ok())
            .ok_or_else(|| format!("range {} has no valid network", i + 1))?;
        // AWS and GCP say GLOBAL for ranges of no one region.
        let region = if region.eq_ignore_ascii_case("global") {
            String::new()
        } else {
            region
        };
        nets.push((net.trunc(), region));
    }
    if nets.is_empty() {
        return Err("no ranges in it".into());
    }
    Ok(nets)
}

/// Every configured provider's ranges, for longest-prefix lookups.
#[derive(Debug, Default)]
pub struct CloudRanges {
    index: NetblockIndex,
    places: Vec<CloudPlace>,
}

impl CloudRanges {
    /// Reads each `(provider, file)`.
    pub fn load(files: &[(String, PathBuf)]) -> Result<CloudRanges, CloudError> {
        let mut sets = Vec::new();
        for (provider, path) in files {
            let shown = path.display().to_string();
            let bytes = shared::fsread::read_regular(path, 64 << 20).map_err(|source| {
                CloudError::Read {
                    path: shown.clone(),
                    source,
                }
            })?;
            let ranges = parse(&bytes).map_err(|detail| CloudError::Invalid {
                path: shown,
                detail,
            })?;
            sets.push((provider.as_str(), ranges));
        }
        Ok(CloudRanges::build(sets))
    }

    /// The index of `sets`: (provider, its ranges). Where one network is listed twice, a
    /// region wins over none (Azure lists every range again in its whole-cloud tag).
    pub fn build<'a>(
        sets: impl IntoIterator<Item = (&'a str, Vec<(IpNet, String)>)>,
    ) -> CloudRanges {
        let mut places: Vec<CloudPlace> = Vec::new();
        let mut seen: std::collections::HashMap<IpNet, usize> = Default::default();
        let mut by_net: Vec<(IpNet, usize)> = Vec::new();
        for (provider, ranges) in sets {
            let provider: Arc<str> = provider.into();
            for (net, region) in ranges {
                let place = match places
                    .iter()
                    .position(|p| p.provider == provider && *p.region == *region)
                {
                    Some(i) => i,
                    None => {
                        places.push(CloudPlace {
                            provider: provider.clone(),
                            region: region.as_str().into(),
                        });
                        places.len() - 1
                    }
                };
                match seen.get(&net) {
                    Some(&at) if places[by_net[at].1].region.is_empty() && !region.is_empty() => {
                        by_net[at].1 = place;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(net, by_net.len());
                        by_net.push((net, place));
                    }
                }
            }
        }
        let mut index = NetblockIndex::default();
        for (net, place) in by_net {
            index.insert(net, place as u32);
        }
        index.finish();
        CloudRanges { index, places }
    }

    /// The provider and region of the most specific range holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&CloudPlace> {
        let found = self.index.lookup(ip);
        found.first().map(|&i| &self.places[i as usize])
    }

    /// How many ranges are indexed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
pub(crate) mod tests;
