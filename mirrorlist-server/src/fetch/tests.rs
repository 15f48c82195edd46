use super::*;
use bytes::Bytes;
use clap::Parser;

/// An https server on loopback answering every request with `body` (and an ETag), with
/// a certificate for 127.0.0.1; its address and its certificate (PEM).
async fn https_source(body: Vec<u8>) -> (std::net::SocketAddr, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    let der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(body);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .header(http::header::ETAG, "\"x\"")
                                .body(http_body_util::Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, cert.pem())
}

/// The example catalog's snapshot with no mirror, as a source serves it.
fn mirrorless_snapshot(serial: u64) -> shared::snapshot::Snapshot {
    let catalog =
        shared::catalog::Catalog::load(&shared::testing::example("catalog.toml")).unwrap();
    shared::snapshot::Snapshot {
        serial,
        created_at: shared::time::now(),
        generator: "test".into(),
        directories: vec![Default::default(); catalog.directories.len()],
        catalog,
        mirrors: Vec::new(),
    }
}

#[tokio::test]
async fn https_sources_are_verified_against_the_web_pki_and_the_given_authority() {
    let dir = tempfile::tempdir().unwrap();
    let snap = mirrorless_snapshot(3);
    let source = dir.path().join("source.bin");
    snapshot::write_atomic(&snap, &source, None).unwrap();
    let (addr, ca_pem) = https_source(std::fs::read(&source).unwrap()).await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let local = dir.path().join("local.bin");
    let url = format!("https://{addr}/snapshot");
    let cli = |extra: &[&str]| {
        let mut args = vec!["mirrorlist-server", "--snapshot", local.to_str().unwrap()];
        args.extend(["--snapshot-url", &url]);
        args.extend(extra);
        Cli::parse_from(args)
    };

    // Without the authority: the certificate is not trusted, nothing is written.
    let mut untrusting = Fetcher::new(&cli(&[]), None).unwrap();
    let err = untrusting.poll_one(0).await.unwrap_err().to_string();
    assert!(err.contains("TLS"), "{err}");
    assert!(!local.exists());

    let mut fetcher = Fetcher::new(&cli(&["--snapshot-ca", ca.to_str().unwrap()]), None).unwrap();
    assert_eq!(fetcher.poll_one(0).await, Ok(Polled::New(3)));
    assert_eq!(snapshot::read(&local).unwrap(), snap);
    // The same again: not newer than the local copy.
    assert_eq!(fetcher.poll_one(0).await, Ok(Polled::Unchanged));

    // A file that is no certificate authority is refused at start.
    let err = Fetcher::new(&cli(&["--snapshot-ca", local.to_str().unwrap()]), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--snapshot-ca"), "{err}");
}

/// A source answering with something that is not a whole valid snapshot (here one cut
/// in half) is counted as refused, what the alert watches, not as a failed source.
#[tokio::test]
async fn a_truncated_snapshot_is_counted_as_refused() {
    let dir = tempfile::tempdir().unwrap();
    let snap = mirrorless_snapshot(3);
    let source = dir.path().join("source.bin");
    snapshot::write_atomic(&snap, &source, None).unwrap();
    let mut bytes = std::fs::read(&source).unwrap();
    bytes.truncate(bytes.len() / 2);
    let (addr, ca_pem) = https_source(bytes).await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let local = dir.path().join("local.bin");
    let url = format!("https://{addr}/snapshot");
    let cli = Cli::parse_from([
        "mirrorlist-server",
        "--snapshot",
        local.to_str().unwrap(),
        "--snapshot-url",
        &url,
        "--snapshot-ca",
        ca.to_str().unwrap(),
    ]);
    let state = AppState::new(crate::state::Settings::default());
    let mut fetcher = Fetcher::new(&cli, None).unwrap();
    fetcher.poll(&state).await;
    let count = |result: &str| {
        state
            .metrics()
            .snapshot_fetches
            .with_label_values(&[result])
            .get()
    };
    assert_eq!((count("refused"), count("failed")), (1, 0));
    assert!(!local.exists());
}

#[test]
fn only_web_sources_with_a_host_are_taken() {
    assert!(crate::cli::parse_url("http://checker:9465/snapshot").is_ok());
    assert!(crate::cli::parse_url("https://cdn.example.org/snapshot").is_ok());
    let err = crate::cli::parse_url("ftp://x/snapshot").unwrap_err();
    assert!(err.contains("not supported"), "{err}");
    assert!(crate::cli::parse_url("not a url").is_err());
}

/// What a hostile plain-HTTP source sends after the request.
#[derive(Clone)]
enum Hostile {
    /// `prefix`, then junk chunks for ever (chunked encoding).
    Endless(Vec<u8>),
    /// A declared megabyte, a byte every 100 ms.
    Drip,
    /// `body`, whole, with its length.
    Whole(Vec<u8>),
    /// `body` with its length, its first half at once and the rest a second later.
    Halves(Vec<u8>),
}

/// A source on loopback answering every request as `how` says; its address, and the body
/// bytes it got written.
async fn hostile_source(how: Hostile) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let (how, sent) = (how.clone(), counter.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let chunk = |data: &[u8]| {
                    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
                    c.extend_from_slice(data);
                    c.extend_from_slice(b"\r\n");
                    c
                };
                match how {
                    Hostile::Endless(prefix) => {
                        let ok = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                        let _ = tcp.write_all(ok).await;
                        if !prefix.is_empty() && tcp.write_all(&chunk(&prefix)).await.is_ok() {
                            sent.fetch_add(prefix.len() as u64, Ordering::Relaxed);
                        }
                        let junk = chunk(&vec![b'x'; 64 * 1024]);
                        while tcp.write_all(&junk).await.is_ok() {
                            sent.fetch_add(64 * 1024, Ordering::Relaxed);
                        }
                    }
                    Hostile::Drip => {
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nMIRR";
                        let _ = tcp.write_all(ok).await;
                        loop {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            if tcp.write_all(b"x").await.is_err() {
                                return;
                            }
                        }
                    }
                    Hostile::Halves(body) => {
                        let ok =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                        let _ = tcp.write_all(ok.as_bytes()).await;
                        let _ = tcp.write_all(&body[..body.len() / 2]).await;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let _ = tcp.write_all(&body[body.len() / 2..]).await;
                    }
                    Hostile::Whole(body) => {
                        let ok =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                        let _ = tcp.write_all(ok.as_bytes()).await;
                        let _ = tcp.write_all(&body).await;
                    }
                }
            });
        }
    });
    (addr, sent)
}

/// A snapshot's file bytes, as a source serves them.
fn bytes_of(snap: &shared::snapshot::Snapshot) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.bin");
    snapshot::write_atomic(snap, &path, None).unwrap();
    std::fs::read(path).unwrap()
}

fn fetcher_of(local: &Path, urls: &[String]) -> Fetcher {
    let mut args = vec!["mirrorlist-server".to_string(), "--snapshot".into()];
    args.push(local.display().to_string());
    args.extend(["--snapshot-url".to_string(), urls.join(",")]);
    Fetcher::new(&Cli::parse_from(args), None).unwrap()
}

/// An endless body was read to 256 MiB at every poll (RSS 10 to 350 MB), and one that did
/// not begin as a snapshot was read whole before being refused: the first bytes and the
/// length the snapshot declares decide, as they arrive.
#[tokio::test]
async fn endless_and_foreign_bodies_are_refused_from_their_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let whole = bytes_of(&mirrorless_snapshot(3));
    for (how, expected) in [
        (Hostile::Endless(Vec::new()), "not a snapshot"),
        (Hostile::Endless(whole.clone()), "longer than"),
    ] {
        let (addr, sent) = hostile_source(how).await;
        let local = dir.path().join("local.bin");
        let mut fetcher = fetcher_of(&local, &[format!("http://{addr}/snapshot")]);
        let started = std::time::Instant::now();
        let err = fetcher.poll_one(0).await.unwrap_err();
        assert!(matches!(err, PollError::Refused(_)), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(sent < 32 << 20, "{} MiB read before refusing", sent >> 20);
        assert!(!local.exists());
    }
}

/// Sources were polled one after another, 60 s each at most: one that drips held back a
/// genuine source's new snapshot. They are polled together, each answer taken as it comes.
#[tokio::test]
async fn a_dripping_source_does_not_hold_back_another() {
    let dir = tempfile::tempdir().unwrap();
    let (drip, _) = hostile_source(Hostile::Drip).await;
    let whole = bytes_of(&mirrorless_snapshot(4));
    let (good, _) = hostile_source(Hostile::Whole(whole)).await;
    let local = dir.path().join("local.bin");
    let urls = [
        format!("http://{drip}/snapshot"),
        format!("http://{good}/snapshot"),
    ];
    let mut fetcher = fetcher_of(&local, &urls);
    let state = AppState::new(crate::state::Settings::default());
    let polling = tokio::spawn(async move { fetcher.poll(&state).await });
    let started = std::time::Instant::now();
    while !local.exists() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        snapshot::read(&local).unwrap().serial,
        4,
        "held back by the dripping source"
    );
    polling.abort();
}

/// A source whose checker's store was rebuilt offers serial 2 built after the serial 5 held:
/// it was counted as "unchanged" and nobody heard of it. It is not taken (a lower serial
/// never replaces a higher one) and is counted and logged as behind, for the alert.
#[tokio::test]
async fn a_source_whose_serials_started_again_is_said_to_be_behind() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.bin");
    let mut held = mirrorless_snapshot(5);
    held.created_at -= 3600;
    snapshot::write_atomic(&held, &local, None).unwrap();
    let (addr, _) = hostile_source(Hostile::Whole(bytes_of(&mirrorless_snapshot(2)))).await;
    let mut fetcher = fetcher_of(&local, &[format!("http://{addr}/snapshot")]);
    assert_eq!(
        fetcher.poll_one(0).await,
        Ok(Polled::Behind {
            offered: 2,
            held: 5
        })
    );
    assert_eq!(snapshot::read(&local).unwrap().serial, 5);
    let state = AppState::new(crate::state::Settings::default());
    fetcher.poll(&state).await;
    let behind = state
        .metrics()
        .snapshot_fetches
        .with_label_values(&["behind"])
        .get();
    assert_eq!(behind, 1);
}

/// What the local folder holds besides the local snapshot: the downloads in progress.
fn parts(dir: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| {
            let len = e.metadata().unwrap().len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect()
}

/// A download was held in memory to its declared length (64 MiB at most), for every
/// source at once. It goes to a file beside the local snapshot as it arrives, is verified
/// from there one source at a time, and is renamed into place; nothing is left behind.
#[tokio::test]
async fn a_download_is_written_to_disk_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let whole = bytes_of(&mirrorless_snapshot(5));
    let (addr, _) = hostile_source(Hostile::Halves(whole.clone())).await;
    let local = dir.path().join("local.bin");
    let mut fetcher = fetcher_of(&local, &[format!("http://{addr}/snapshot")]);
    let polling = tokio::spawn(async move { fetcher.poll_one(0).await });
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    while seen.is_empty() && started.elapsed() < Duration::from_millis(900) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen = parts(dir.path());
    }
    assert_eq!(seen.len(), 1, "no download on disk mid-way: {seen:?}");
    assert!(seen[0].1 >= whole.len() as u64 / 2 - 1, "{seen:?}");
    assert_eq!(polling.await.unwrap(), Ok(Polled::New(5)));
    assert_eq!(std::fs::read(&local).unwrap(), whole);
    assert_eq!(parts(dir.path()), Vec::new());

    // A refused download leaves nothing either.
    let mut cut = bytes_of(&mirrorless_snapshot(6));
    cut.truncate(cut.len() - 10);
    let (addr, _) = hostile_source(Hostile::Whole(cut)).await;
    let mut fetcher = fetcher_of(&local, &[format!("http://{addr}/snapshot")]);
    assert!(matches!(
        fetcher.poll_one(0).await,
        Err(PollError::Refused(_))
    ));
    assert_eq!(parts(dir.path()), Vec::new());
    assert_eq!(std::fs::read(&local).unwrap(), whole);
}
