//! Command-line interface.

use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mirrorlist-server",
    version,
    about = "Answers dnf metalink and mirrorlist requests from checker snapshots"
)]
pub struct Cli {
    /// The snapshot file the checker publishes.
    #[arg(long, env = "MIRRORLIST_SNAPSHOT")]
    pub snapshot: PathBuf,
    /// Log filter, e.g. `info` (default: RUST_LOG, else info).
    #[arg(long, env = "MIRRORS_LOG")]
    pub log: Option<String>,
    /// Log one JSON object per line.
    #[arg(long, env = "MIRRORS_LOG_JSON")]
    pub log_json: bool,
}
