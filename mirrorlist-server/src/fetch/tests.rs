use super::*;
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
