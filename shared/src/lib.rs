//! The library both programs share: the domain model (catalog, mirror registry), the store
//! (SQLite or PostgreSQL), and the snapshot format the checker publishes and the server reads.

pub mod catalog;
mod countries;
pub mod duration;
pub mod geo;
pub mod model;
pub mod registry;
pub mod snapshot;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod yaml;
