//! Requests allowed per client network (its /24, or /48 for IPv6) in a minute, for what is
//! costly to answer (`/explain`): a fixed one-minute window per network, the table of
//! networks bounded and cleared when full.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Networks remembered at most; past that the table starts afresh (a flood of networks
/// cannot grow it).
const MAX_NETWORKS: usize = 100_000;

#[derive(Debug, Default)]
pub struct PerNetwork {
    /// Network → (the minute counted, requests in it).
    seen: Mutex<HashMap<u128, (i64, u32)>>,
}

/// The network an address is counted under.
fn network(ip: Option<IpAddr>) -> u128 {
    match ip.map(shared::net::unmapped) {
        Some(IpAddr::V4(a)) => u128::from(u32::from(a) & 0xffff_ff00),
        Some(IpAddr::V6(a)) => (u128::from(a) >> 80) | (1 << 64),
        None => u128::MAX,
    }
}

impl PerNetwork {
    /// Whether one more request from `ip`'s network is allowed at `now` under `limit` a
    /// minute; when not, the seconds until it is.
    pub fn allow(&self, ip: Option<IpAddr>, limit: u32, now: i64) -> Result<(), u64> {
        let minute = now.div_euclid(60);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_NETWORKS {
            seen.clear();
        }
        let entry = seen.entry(network(ip)).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= limit {
            return Err((60 - now.rem_euclid(60)) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}
