//! The crawler's HTTP client: hyper with a connector of our own, so that name resolution can
//! be pinned (a static map like curl's `--connect-to`, used to stand a simulated network in for
//! real host names), an address family can be forced (to probe IPv4 and IPv6 separately), and
//! extra CA certificates can be trusted. Every fetch is bounded: connect, first-byte and total
//! timeouts, a body size cap, and a redirect limit with loop detection.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use shared::model::Family;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use url::Url;

mod config;
mod connect;
mod error;

pub use config::{user_agent, ConnectTo, HttpConfig};
pub use error::FetchError;

use connect::{Connector, StaticRoutes};
use error::classify_client_error;

#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: Bytes,
    pub elapsed: Duration,
    /// Requests made, redirects included.
    pub requests: u32,
    /// The other host a redirect led to, when one did.
    pub offhost: Option<String>,
    /// The length the response announced (Content-Length), when it did.
    pub length: Option<u64>,
}

/// Conditional request validators from an earlier fetch.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

type HyperClient = Client<Connector, http_body_util::Full<Bytes>>;

/// One pooled client per address-family choice.
#[derive(Clone)]
pub struct HttpClient {
    any: HyperClient,
    v4: HyperClient,
    v6: HyperClient,
    /// Shared with the three connectors.
    routes: Arc<StaticRoutes>,
    config: Arc<HttpConfig>,
}

impl HttpClient {
    pub fn new(mut config: HttpConfig) -> crate::Result<HttpClient> {
        config.user_agent = user_agent(&config)?;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for file in &config.extra_ca_files {
            use rustls_pki_types::pem::PemObject;
            let bad = |e: &dyn std::fmt::Display| {
                crate::Error::Config(format!("CA file {}: {e}", file.display()))
            };
            let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(file)
                .map_err(|e| bad(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad(&"it holds no certificate"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(&e))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| crate::Error::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let routes = Arc::new(StaticRoutes::new(&config.connect_to));
        let make = |family| {
            let connector = Connector {
                routes: routes.clone(),
                tls: tls.clone(),
                family,
                connect_timeout: config.connect_timeout.into(),
                allow_internal: Arc::new(config.allow_internal.clone()),
            };
            Client::builder(TokioExecutor::new())
                // A crawl is done with a mirror quickly; idle connections only cost memory. The
                // timer is what makes the pool actually close them.
                .pool_idle_timeout(Duration::from_secs(1))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .pool_max_idle_per_host(8)
                .build(connector)
        };
        Ok(HttpClient {
            any: make(Family::Any),
            v4: make(Family::V4),
            v6: make(Family::V6),
            routes,
            config: Arc::new(config),
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The addresses `url`'s host resolves to (through the static routes or DNS); none when
    /// it does not resolve.
    pub async fn addresses(&self, url: &Url) -> Vec<std::net::IpAddr> {
        let Some(host) = url.host_str() else {
            return Vec::new();
        };
        let port = url.port_or_known_default().unwrap_or(80);
        match self.routes.resolve(host, port, Family::Any).await {
            Ok(addrs) => addrs.iter().map(SocketAddr::ip).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// GETs `url` over `family`, following redirects, within the configured bounds.
    pub async fn get(
        &self,
        url: &Url,
        family: Family,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let cap = self.config.max_body_bytes;
        self.request(hyper::Method::GET, url, family, validators, cap)
            .await
    }

    /// GETs `url` over any family with a body of up to `cap` bytes (a repository's
    /// metadata file, larger than a repomd.xml).
    pub async fn get_large(&self, url: &Url, cap: u64) -> Result<Fetched, FetchError> {
        self.request(
            hyper::Method::GET,
            url,
            Family::Any,
            &Validators::default(),
            cap,
        )
        .await
    }

    /// HEADs `url` over any family, following redirects: its status and announced length
    /// (the body is empty).
    pub async fn head(&self, url: &Url) -> Result<Fetched, FetchError> {
        self.request(
            hyper::Method::HEAD,
            url,
            Family::Any,
            &Validators::default(),
            0,
        )
        .await
    }

    /// POSTs `body` as JSON to `url` with `headers`, over any family, within the configured
    /// bounds and the no-internal-address rule; a redirect is not followed. The answer's
    /// status (its body is read up to a few KiB and dropped).
    pub async fn post_json(
        &self,
        url: &Url,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<u16, FetchError> {
        let mut req = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(url.as_str())
            .header(hyper::header::USER_AGENT, &self.config.user_agent)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req
            .body(http_body_util::Full::new(body))
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        let total = Duration::from(self.config.total_timeout);
        let sent = async {
            let response = self
                .any
                .request(req)
                .await
                .map_err(|e| classify_client_error(&e))?;
            let status = response.status().as_u16();
            let _ = read_capped(response.into_body(), 4096, None).await;
            Ok(status)
        };
        match tokio::time::timeout(total, sent).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout("before the whole response arrived")),
        }
    }

    async fn request(
        &self,
        method: hyper::Method,
        url: &Url,
        family: Family,
        validators: &Validators,
        cap: u64,
    ) -> Result<Fetched, FetchError> {
        let total = Duration::from(self.config.total_timeout);
        let inner = self.request_inner(method, url, family, validators, cap);
        match tokio::time::timeout(total, inner).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout("before the whole response arrived")),
        }
    }

    async fn request_inner(
        &self,
        method: hyper::Method,
        url: &Url,
        family: Family,
        validators: &Validators,
        cap: u64,
    ) -> Result<Fetched, FetchError> {
        let client = match family {
            Family::Any => &self.any,
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        let started = Instant::now();
        let mut current = url.clone();
        let mut seen = vec![current.to_string()];
        let mut offhost = None;
        for requests in 1..=self.config.max_redirects + 1 {
            let mut req = hyper::Request::builder()
                .method(method.clone())
                .uri(current.as_str())
                .header(hyper::header::USER_AGENT, &self.config.user_agent)
                .header(hyper::header::ACCEPT, "*/*");
            if requests == 1 {
                if let Some(etag) = &validators.etag {
                    req = req.header(hyper::header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &validators.last_modified {
                    req = req.header(hyper::header::IF_MODIFIED_SINCE, lm);
                }
            }
            let req = req
                .body(http_body_util::Full::new(Bytes::new()))
                .map_err(|e| FetchError::Protocol(e.to_string()))?;
            let first_byte = Duration::from(self.config.first_byte_timeout);
            let response = match tokio::time::timeout(first_byte, client.request(req)).await {
                Err(_) => return Err(FetchError::Timeout("waiting for the response headers")),
                Ok(Err(e)) => return Err(classify_client_error(&e)),
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            if status.is_redirection() && status != hyper::StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::BadRedirect(format!("{status} without a Location"))
                    })?;
                let next = current
                    .join(location)
                    .map_err(|e| FetchError::BadRedirect(format!("{location:?}: {e}")))?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::BadRedirect(format!("to {next}")));
                }
                if seen.contains(&next.to_string()) {
                    return Err(FetchError::RedirectLoop(next.to_string()));
                }
                if next.host_str() != url.host_str() {
                    let host = next.host_str().unwrap_or_default().to_string();
                    if !self.config.follow_offhost_redirects {
                        return Err(FetchError::BadRedirect(format!(
                            "to another host ({host}), not followed ([http] follow_offhost_redirects = false)"
                        )));
                    }
                    offhost = Some(host);
                }
                seen.push(next.to_string());
                current = next;
                continue;
            }
            let header = |name: hyper::header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let etag = header(hyper::header::ETAG);
            let last_modified = header(hyper::header::LAST_MODIFIED);
            let announced = response
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body = if method == hyper::Method::HEAD {
                Bytes::new()
            } else {
                read_capped(response.into_body(), cap, announced).await?
            };
            return Ok(Fetched {
                status: status.as_u16(),
                etag,
                last_modified,
                body,
                elapsed: started.elapsed(),
                requests,
                offhost,
                length: announced,
            });
        }
        Err(FetchError::TooManyRedirects(self.config.max_redirects))
    }
}

/// Reads a body up to `cap` bytes; more is an error, and the connection is dropped unread.
/// A body that ends before its announced length is reported as truncated.
async fn read_capped(
    mut body: Incoming,
    cap: u64,
    announced: Option<u64>,
) -> Result<Bytes, FetchError> {
    if announced.is_some_and(|n| n > cap) {
        return Err(FetchError::TooLarge(cap));
    }
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let short = announced.is_some_and(|n| (out.len() as u64) < n);
            if e.is_incomplete_message() || short {
                FetchError::Truncated(out.len() as u64)
            } else {
                FetchError::Protocol(e.to_string())
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > cap {
                return Err(FetchError::TooLarge(cap));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests;
