//! A crawl's phases (scan, load, check, store, publish): how long each took and its own peak
//! memory, for the one log line that says where a crawl's time and memory went.

use std::time::{Duration, Instant};

const NAMES: [&str; 5] = ["scan", "load", "check", "store", "publish"];

pub struct Phases {
    started: Instant,
    /// When each phase ended, and its peak resident memory (MiB).
    ends: Vec<(Duration, f64)>,
}

impl Phases {
    /// Starts the first phase, and the count of the process's peak memory with it.
    pub fn start() -> Phases {
        shared::telemetry::reset_peak_rss();
        Phases {
            started: Instant::now(),
            ends: Vec::with_capacity(NAMES.len()),
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the current phase and starts the next.
    pub fn next(&mut self) {
        let peak = shared::telemetry::peak_rss_mib().unwrap_or(0.0);
        self.ends.push((self.started.elapsed(), peak));
        shared::telemetry::reset_peak_rss();
    }

    /// Logs each phase's time and peak memory.
    pub fn log(&self) {
        let mut before = Duration::ZERO;
        let parts: Vec<String> = (NAMES.iter().zip(&self.ends))
            .map(|(name, &(end, peak))| {
                let took = end - before;
                before = end;
                format!("{name} {:.2} s, {peak:.0} MiB", took.as_secs_f64())
            })
            .collect();
        // Under the service's target, where the crawl's other lines are.
        tracing::info!(
            target: "mirror_checker::service",
            phases = %parts.join("; "),
            "crawl phases (each one's time and peak RSS)"
        );
    }
}
