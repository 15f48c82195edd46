//! The one place the system reads the clock. Everything that needs "now" asks here, so tests
//! and the code agree on what time it is and how it is counted (whole seconds since the Unix
//! epoch, as stored and as carried in snapshots).

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The clock's sub-second part: cheap noise for seeds, jitter and unique names, where
/// quality does not matter but two calls in a row should differ.
pub fn clock_noise() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// CPU time the calling thread has used so far (Linux's schedstat, in nanoseconds): the
/// work a step did, apart from the time it waited for a core. `None` where unavailable.
pub fn thread_cpu() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}
