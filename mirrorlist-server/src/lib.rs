//! mirrorlist-server: answers dnf's metalink and mirrorlist requests from snapshots the
//! checker publishes. It never touches the database; a snapshot file is all it needs.

pub mod answer;
pub mod app;
pub mod cli;
pub mod cloud;
pub mod decide;
pub mod error;
pub mod explain;
pub mod fetch;
pub use shared::geoip;
pub mod limit;
pub mod loaded;
pub mod locate;
pub mod metrics;
pub mod netblocks;
pub mod pages;
pub mod parse;
pub mod place;
pub mod refusal;
pub mod render;
pub mod resolve;
pub mod respond;
pub mod select;
pub mod serve;
pub mod state;
pub mod tls;

pub use cli::Cli;
pub use error::{Error, Result};

use shared::snapshot::{self, Snapshot};

/// The public key snapshots must be signed with, when one is configured.
pub fn snapshot_key(cli: &Cli) -> Result<Option<snapshot::PublicKey>> {
    cli.snapshot_key
        .as_deref()
        .map(snapshot::PublicKey::read)
        .transpose()
        .map_err(Error::from)
}

/// Loads and validates the snapshot named on the command line.
pub fn load(cli: &Cli) -> Result<Snapshot> {
    Ok(snapshot::read_verified(
        &cli.snapshot,
        snapshot_key(cli)?.as_ref(),
    )?)
}

/// One line saying what a snapshot holds.
pub fn describe(snap: &Snapshot) -> String {
    format!(
        "snapshot {} of {} by {}: {} mirrors ({} not served), {} directories ({} on mirrors, {} of vault releases), {} up-to-date mirror-directory pairs",
        snap.serial,
        snap.catalog.spec.distribution,
        snap.generator,
        snap.mirrors.len(),
        snap.mirrors.iter().filter(|m| m.refused.is_some()).count(),
        snap.directories.len(),
        snap.catalog.mirrored().count(),
        snap.catalog.directories.iter().filter(|d| d.vault).count(),
        snap.up_to_date_pairs()
    )
}

/// `--check`: load, validate and describe the snapshot; otherwise serve.
pub async fn run(cli: Cli) -> Result<()> {
    if cli.check {
        let snap = load(&cli)?;
        println!("{}", describe(&snap));
        return Ok(());
    }
    serve::serve(cli).await
}
