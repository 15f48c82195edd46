//! The public views of the network: status pages (HTML, no JavaScript needed) and the JSON
//! API, from the snapshot in use. The network's pages are rendered when a snapshot is
//! loaded, a mirror's on its first request, and all are then served as bytes: they never
//! touch the metalink path. What they say is [`shared::status`], the same model
//! `mirror-checker status --json` prints; how they look is one maud template per page, the
//! layout and small pieces in [`layout`].

#[cfg(test)]
mod api_schema;
mod explain;
mod layout;
mod mirror;
mod mirrors;
mod overview;

pub use explain::{explain, ExplainForm};
pub use layout::{not_found, page_policy};

use axum::body::Bytes;
use shared::snapshot::Snapshot;
use shared::status::{self, NetworkStatus};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A mirror's rendered views.
#[derive(Debug)]
pub struct MirrorPages {
    pub json: Bytes,
    pub html: Bytes,
}

/// Every view of one snapshot.
#[derive(Debug)]
pub struct Pages {
    pub status_json: Bytes,
    pub overview: Bytes,
    pub mirrors: Bytes,
    by_name: HashMap<String, usize>,
    detail: Vec<OnceLock<MirrorPages>>,
}

impl Pages {
    pub fn build(snap: &Snapshot, now: i64) -> Pages {
        let network: NetworkStatus = status::network(snap);
        Pages {
            status_json: Bytes::from(serde_json::to_vec(&network).expect("serializable")),
            overview: Bytes::from(overview::overview(&network, now)),
            mirrors: Bytes::from(mirrors::mirrors(&network, now)),
            by_name: snap
                .mirrors
                .iter()
                .enumerate()
                .map(|(i, m)| (m.name.clone(), i))
                .collect(),
            detail: (0..snap.mirrors.len()).map(|_| OnceLock::new()).collect(),
        }
    }

    /// A mirror's views, rendered on first use; `None` for a name no mirror has.
    pub fn mirror(&self, snap: &Snapshot, name: &str, now: i64) -> Option<&MirrorPages> {
        let at = *self.by_name.get(name)?;
        Some(self.detail[at].get_or_init(|| {
            let detail = status::mirror(snap, name).expect("the name is the snapshot's");
            MirrorPages {
                json: Bytes::from(serde_json::to_vec(&detail).expect("serializable")),
                html: Bytes::from(mirror::mirror(
                    &detail,
                    &snap.catalog.spec.distribution,
                    now,
                )),
            }
        }))
    }
}

#[cfg(test)]
mod tests;
