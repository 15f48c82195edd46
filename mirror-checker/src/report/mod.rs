//! What the operator's commands print (`status`, `mirrors`, `propagation`). The operator's
//! view of one mirror: is it served, to whom, and if not, exactly why. The verdicts are the
//! snapshot's own: the store's state goes through the same pure
//! [`shared::snapshot::build`] a published snapshot comes from, so what this prints and what
//! the servers do cannot disagree.

use crate::error::{Error, Result};
use shared::snapshot::{self, Snapshot};
use std::fmt::Write as _;
use store::Store;

mod network;
mod sections;
mod verdicts;

pub use network::{list, propagation};
pub use verdicts::verdicts;

pub async fn print(store: &Store, name: &str, json: bool) -> Result<()> {
    if json {
        let snap = snapshot_now(store).await?;
        let detail = shared::status::mirror(&snap, name)
            .ok_or_else(|| Error::UnknownMirror(name.to_string()))?;
        say!(
            "{}",
            serde_json::to_string_pretty(&detail).expect("serializable")
        );
    } else {
        crate::output::text(&render(store, name).await?);
    }
    Ok(())
}

/// The snapshot the store would publish now.
pub(crate) async fn snapshot_now(store: &Store) -> Result<Snapshot> {
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    Ok(snapshot::build(&input, 0, shared::time::now(), "status"))
}

/// Everything `status` prints, as text.
pub async fn render(store: &Store, name: &str) -> Result<String> {
    let mirrors = store.load_mirrors_with_ids().await?;
    let Some((id, mirror)) = mirrors.iter().find(|(_, m)| m.name == name) else {
        return Err(Error::UnknownMirror(name.to_string()));
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}  (sponsor: {})", mirror.name, mirror.sponsor);
    let input = store.snapshot_input().await?.ok_or(Error::NoCatalog)?;
    let snap = snapshot::build(&input, 0, shared::time::now(), "status");
    out.push_str(&verdicts(&snap, name).unwrap_or_default());
    if let Some(l) = input.located.get(id) {
        let geoip = match (&l.country, l.latitude.zip(l.longitude)) {
            (Some(c), Some((lat, lon))) => format!("GeoIP: {c}, {lat:.2}, {lon:.2}"),
            (Some(c), None) => format!("GeoIP: {c}, no coordinates"),
            (None, _) => "not in the GeoIP database, or none is configured".to_string(),
        };
        let _ = writeln!(out, "  reached at {} ({geoip})", l.address);
    }
    sections::all(store, id, mirror, &mut out).await?;
    Ok(out)
}
