//! HTTP listeners held to limits, for every listener of both programs: the connection cap
//! with the oldest idle connection shed to make room ([`conns`]), what ties a connection's
//! traffic to its limits ([`guard`]: busy until an answer is sent, writes as progress), and
//! serving plain HTTP/1.1 with the header-read, idle and stall deadlines ([`http1`]).

pub mod conns;
pub mod guard;
pub mod http1;

use std::time::{Duration, Instant};

/// What every connection of a listener is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// For a request head (idle keep-alives included), a TLS handshake, an HTTP/2
    /// connection's first request, and a connection with answers to send that writes
    /// nothing.
    pub header_timeout: Duration,
}

/// A warning at most once a second, saying how many were held back.
#[derive(Default)]
pub struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// `Some(held back since the last)` when a warning may be given now.
    pub fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Raises the soft limit on open files to the hard one (each connection is a descriptor);
/// returns the limit in force, `None` when there is none.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if let (Some(current), Some(max)) = (lim.current, lim.maximum) {
        if current < max {
            let raised = Rlimit {
                current: Some(max),
                maximum: Some(max),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                tracing::debug!(from = current, to = max, "open files limit raised");
                return Some(max);
            }
        }
    }
    lim.current
}
