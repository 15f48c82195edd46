//! Webhooks: set by the mirror's operator (the secret shown once), refused when not https,
//! internal, or asked for by another operator; delivered to a real HTTPS receiver that
//! checks the signature, its status kept, a failing answer retried.

use super::*;
use rustls_pki_types::pem::PemObject;
use std::sync::{Arc, Mutex};

/// What the receiver got: (timestamp, signature, body).
type Got = Arc<Mutex<Vec<(String, String, String)>>>;

/// An HTTPS server on 127.0.0.1 answering `status` (shared, so the test can change it).
async fn receiver(status: Arc<Mutex<u16>>) -> (u16, Got, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let certs = mirror_sim::tls::CertStore::new(Default::default()).unwrap();
    let (cert, key) = certs.issue_pem("127.0.0.1").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certs.ca_pem()).unwrap();
    let chain = rustls_pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![chain], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Got = Arc::default();
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen, status) = (acceptor.clone(), seen.clone(), status.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, status) = (seen.clone(), status.clone());
                        async move {
                            let header = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string()
                            };
                            let (ts, sig) =
                                (header("x-mirror-timestamp"), header("x-mirror-signature"));
                            let body = http_body_util::BodyExt::collect(req.into_body())
                                .await
                                .unwrap()
                                .to_bytes();
                            seen.lock().unwrap().push((
                                ts,
                                sig,
                                String::from_utf8_lossy(&body).into_owned(),
                            ));
                            let code = *status.lock().unwrap();
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(code)
                                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (port, got, ca, dir)
}

#[tokio::test]
async fn a_webhook_is_signed_delivered_to_https_and_its_status_kept() {
    for p in planes("control_webhook", "http://127.0.0.1:8081").await {
        let status = Arc::new(Mutex::new(204u16));
        let (port, got, ca, _dir) = receiver(status.clone()).await;
        let api = "/api/v1/mirrors/own.example.org/webhook";
        let url = format!("https://127.0.0.1:{port}/hook");
        let op = p.sign_in("op@example.org").await;
        // Refused: plain http, an internal address, another operator.
        for (bad, words) in [
            ("http://hooks.example.org/x", "must be https"),
            ("https://10.1.2.3/x", "an internal address"),
            ("not a url", "not a URL"),
        ] {
            let r = p
                .post_json(api, &op, &serde_json::json!({ "url": bad }))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
            assert!(r.body.contains(words), "{bad}: {}", r.body);
        }
        let other = p.sign_in("someone@example.net").await;
        let r = p
            .post_json(api, &other, &serde_json::json!({ "url": url }))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // Set: the secret in this answer only.
        let r = p
            .post_json(api, &op, &serde_json::json!({ "url": url }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let set: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let secret = set["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        let shown = p.get(api, &op).await;
        assert!(
            shown.body.contains(&url) && !shown.body.contains(&secret),
            "{}",
            shown.body
        );
        // A change of state, delivered signed.
        let mirrors = p.store.load_mirrors_with_ids().await.unwrap();
        let id = mirrors
            .iter()
            .find(|(_, m)| m.name == "own.example.org")
            .unwrap()
            .0;
        let event = store::HealthEvent {
            mirror_id: id,
            capability: "https".into(),
            old_state: shared::model::HealthState::Up,
            new_state: shared::model::HealthState::Down,
            reason: "https: connection refused".into(),
            at: shared::time::now(),
        };
        let hooks = [("own.example.org".to_string(), url.clone())].into();
        let messages =
            crate::webhooks::messages(&mirrors, &[event], &hooks, "http://127.0.0.1:8081");
        assert_eq!(messages.len(), 1);
        p.store
            .enqueue(&messages, shared::time::now())
            .await
            .unwrap();
        let client = crate::http::HttpClient::new(crate::http::HttpConfig {
            allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
            extra_ca_files: vec![ca],
            ..Default::default()
        })
        .unwrap();
        let mailer = mail::Mailer::of(&ControlConfig::default()).unwrap();
        let ch = crate::delivery::Channels {
            mailer: &mailer,
            client: &client,
            base: "http://127.0.0.1:8081",
        };
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (1, 0, 0)
        );
        let (ts, sig, body) = got.lock().unwrap()[0].clone();
        let ts: i64 = ts.parse().unwrap();
        assert_eq!(sig, crate::webhooks::signature(&secret, ts, &body));
        let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(payload["mirror"], "own.example.org");
        assert_eq!(payload["events"][0]["to"], "down");
        let list = p
            .store
            .deliveries(Some("own.example.org"), 5)
            .await
            .unwrap();
        assert_eq!(list[0].last_status, Some(204));
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(
            page.body.contains("HTTP 204") && !page.body.contains(&secret),
            "{}",
            page.body
        );
        // The receiver fails: the message waits for a retry, with the answer.
        *status.lock().unwrap() = 500;
        p.store
            .enqueue(&messages, shared::time::now())
            .await
            .unwrap();
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (0, 1, 0)
        );
        let list = p
            .store
            .deliveries(Some("own.example.org"), 5)
            .await
            .unwrap();
        assert!(
            list[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("answered HTTP 500"),
            "{:?}",
            list[0]
        );
        // The admins see the failing channel too.
        let admin = p.sign_in("root@example.org").await;
        let queue = p.get("/admin", &admin).await;
        assert!(
            queue.body.contains("Messages not delivered")
                && queue.body.contains("answered HTTP 500"),
            "{}",
            queue.body
        );
        // Removed: what waits is dropped, with the reason.
        let r = p
            .post_json(&format!("{api}/remove"), &op, &serde_json::json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (0, 0, 1)
        );
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(&actions[..2], ["remove webhook", "set webhook"]);
    }
}
