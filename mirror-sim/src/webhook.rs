//! A webhook receiver for tests: HTTPS on 127.0.0.1 with a certificate from its own CA
//! (whose PEM a client trusts), recording each POST's timestamp and signature headers and
//! body, answering the status the test sets.

use crate::tls::CertStore;
use rustls_pki_types::pem::PemObject;
use std::sync::{Arc, Mutex};

/// One POST the receiver took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// A running receiver (its task ends with the runtime).
pub struct Receiver {
    pub port: u16,
    /// The CA that signed its certificate, PEM.
    pub ca_pem: String,
    taken: Arc<Mutex<Vec<Taken>>>,
    status: Arc<Mutex<u16>>,
}

impl Receiver {
    /// Starts one answering 204.
    pub async fn start() -> anyhow::Result<Receiver> {
        let certs = CertStore::new(Default::default())?;
        let (cert, key) = certs.issue_pem("127.0.0.1")?;
        let chain = rustls_pki_types::CertificateDer::from_pem_slice(cert.as_bytes())?;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![chain], key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let taken: Arc<Mutex<Vec<Taken>>> = Arc::default();
        let status = Arc::new(Mutex::new(204));
        let (seen, answer) = (taken.clone(), status.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, answer) = (acceptor.clone(), seen.clone(), answer.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        take(req, seen.clone(), answer.clone())
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Receiver {
            port,
            ca_pem: certs.ca_pem(),
            taken,
            status,
        })
    }

    /// What it took so far, oldest first.
    pub fn taken(&self) -> Vec<Taken> {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

async fn take(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Arc<Mutex<Vec<Taken>>>,
    answer: Arc<Mutex<u16>>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (timestamp, signature) = (header("x-mirror-timestamp"), header("x-mirror-signature"));
    let body = match http_body_util::BodyExt::collect(req.into_body()).await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(Taken {
        timestamp,
        signature,
        body,
    });
    let status = *answer.lock().unwrap_or_else(|e| e.into_inner());
    let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    Ok(response)
}
