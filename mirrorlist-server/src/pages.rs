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
pub use layout::{message, page_policy};

use axum::body::Bytes;
use shared::snapshot::Snapshot;
use shared::status::{self, NetworkStatus};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A rendered view, and the same gzip-compressed (once, for every client that accepts it).
#[derive(Debug, Clone)]
pub struct Doc {
    pub plain: Bytes,
    pub gzip: Bytes,
}

impl Doc {
    pub fn new(plain: Vec<u8>) -> Doc {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let gzip = gz
            .write_all(&plain)
            .and_then(|()| gz.finish())
            .expect("writing to memory");
        Doc {
            plain: Bytes::from(plain),
            gzip: Bytes::from(gzip),
        }
    }
}

/// A mirror's rendered views.
#[derive(Debug)]
pub struct MirrorPages {
    pub json: Doc,
    pub html: Doc,
}

/// Every view of one snapshot.
#[derive(Debug)]
pub struct Pages {
    pub status_json: Doc,
    pub overview: Doc,
    pub mirrors: Doc,
    by_name: HashMap<String, usize>,
    detail: Vec<OnceLock<MirrorPages>>,
}

impl Pages {
    pub fn build(snap: &Snapshot, now: i64) -> Pages {
        let network: NetworkStatus = status::network(snap);
        Pages {
            status_json: Doc::new(serde_json::to_vec(&network).expect("serializable")),
            overview: Doc::new(overview::overview(&network, now).into_bytes()),
            mirrors: Doc::new(mirrors::mirrors(&network, now).into_bytes()),
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
                json: Doc::new(serde_json::to_vec(&detail).expect("serializable")),
                html: Doc::new(
                    mirror::mirror(&detail, &snap.catalog.spec.distribution, now).into_bytes(),
                ),
            }
        }))
    }
}

#[cfg(test)]
mod tests;
