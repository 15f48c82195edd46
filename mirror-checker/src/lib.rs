//! mirror-checker: keeps the mirror network's state. It imports the registry and the catalog,
//! scans the master's repodata, checks every mirror against it, keeps health with
//! hysteresis, and publishes snapshots for the server.

/// `println!` for command output: see [`output`].
macro_rules! say {
    () => { $crate::output::line(format_args!("")) };
    ($($t:tt)*) => { $crate::output::line(format_args!($($t)*)) };
}

pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod crawl;
pub mod crawl_io;
pub mod daemon;
pub mod delivery;
pub mod error;
pub mod geo;
pub mod health;
pub mod http;
pub mod metrics;
pub mod notifications;
pub mod output;
pub mod packages;
pub mod phases;
pub mod publish;
pub mod repomd;
pub mod report;
pub mod service;
pub mod upstream;
pub mod webhooks;

pub use cli::Cli;
pub use commands::run;
pub use error::{Error, Result};
