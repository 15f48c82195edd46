//! The library both programs share: the domain model (catalog, mirror registry), the snapshot
//! format the checker publishes and the server reads. No database here: the store is a crate
//! of its own that only the programs owning state depend on, so the server cannot reach a
//! database by construction.

pub mod catalog;
pub mod config;
mod countries;
pub mod duration;
pub mod fsread;
pub mod geo;
pub mod geoip;
pub mod maintenance;
pub mod model;
pub mod net;
pub mod notify;
pub mod proxy;
pub mod registry;
pub mod snapshot;
pub mod status;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod time;
pub mod yaml;
