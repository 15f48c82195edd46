//! A crawl: check every enabled mirror ([`run`], one mirror at a time in [`mirror`]), judge
//! the results ([`judge`]); the checker applies them to the store and a new snapshot in one
//! step. A crawl that is interrupted writes nothing; one where most checks failed at once is
//! recorded but changes no mirror's state (the checker's own network is the likely
//! culprit). No module here touches the store: its input is loaded, and its judgement
//! applied, by [`crate::crawl_io`].

mod check;
mod config;
mod fetch;
pub mod findings;
mod input;
mod judge;
mod mirror;
mod plan;
mod probe;
mod run;
pub mod select;
mod spread;
pub mod subnets;

pub use config::CrawlConfig;
pub use input::{CrawlInput, Earlier, Seen};
pub use judge::{judge, Claimed, Judgement};
pub use mirror::MirrorResult;
pub use run::{check_all, MirrorSummary};

#[cfg(test)]
mod tests;
