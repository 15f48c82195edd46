//! Logging set-up shared by both programs: `RUST_LOG`-style filters, text or JSON lines.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` defaults to `info`; `json` switches to one JSON
/// object per line for log shippers.
pub fn init(filter: Option<&str>, json: bool) {
    let filter = filter
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours for a person at a terminal, plain text for files and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The process's peak resident memory (VmHWM) since it started or since the last
/// [`reset_peak_rss`], in MiB; `None` where unavailable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Starts [`peak_rss_mib`]'s count again from the memory resident now (Linux's clear_refs),
/// so each step of a run can report its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
