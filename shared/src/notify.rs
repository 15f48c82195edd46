//! systemd's service notifications (`Type=notify`), written by hand: a datagram to the socket
//! `$NOTIFY_SOCKET` names. `READY=1` once the service is serving, `RELOADING=1` and
//! `READY=1` around a reload, `STOPPING=1` on the way out, and `WATCHDOG=1` at half the
//! interval `$WATCHDOG_USEC` asks for. Outside systemd (no `$NOTIFY_SOCKET`) every call does
//! nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (`READY=1`, `STATUS=...`) to systemd, when run under it. Failures are
/// returned for the caller to log; they never stop the service.
pub fn notify(state: &str) -> std::io::Result<bool> {
    notify_to(std::env::var_os("NOTIFY_SOCKET").as_deref(), state)
}

/// [`notify`] to the socket `path` names (`None`: not under systemd).
pub fn notify_to(path: Option<&std::ffi::OsStr>, state: &str) -> std::io::Result<bool> {
    let Some(path) = path else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        // An abstract socket (Linux): `@name` stands for a leading NUL byte.
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
        socket.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        socket.send_to(state.as_bytes(), std::path::Path::new(&path))?;
    }
    Ok(true)
}

/// [`notify`], a failure logged: what the programs call.
pub fn tell(state: &str) {
    if let Err(e) = notify(state) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

/// Feeds systemd's watchdog for as long as the task runs, when systemd asked for it
/// (`WatchdogSec=`): a task of its own on the runtime, so a batch or a request that takes
/// long does not starve it, and a runtime that stalls does. `None` when not asked.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let every = watchdog_interval()?;
    Some(tokio::spawn(async move {
        loop {
            tell("WATCHDOG=1");
            tokio::time::sleep(every).await;
        }
    }))
}

/// How often to send `WATCHDOG=1`: half the interval systemd set (`WatchdogSec=`), when it
/// set one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_reach_the_socket_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(notify_to(Some(path.as_os_str()), "READY=1").unwrap());
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert!(
            !notify_to(None, "READY=1").unwrap(),
            "outside systemd: nothing"
        );
        let missing = dir.path().join("nobody.sock");
        assert!(notify_to(Some(missing.as_os_str()), "READY=1").is_err());
    }
}
