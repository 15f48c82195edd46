//! mirror-checker: keeps the mirror network's state. It imports the registry and the catalog
//! into the store and publishes snapshots for the server; later stages scan the master and
//! crawl every mirror.

pub mod cli;
pub mod commands;
pub mod config;

pub use cli::Cli;
pub use commands::run;
