//! The crawler's connector: name resolution through static routes or DNS, a pinned address
//! family, TCP and TLS with connect timeouts, and failures worded for operators.

use super::*;

/// The static routes.
#[derive(Debug, Default)]
pub(super) struct StaticRoutes {
    exact: HashMap<(String, u16), Vec<SocketAddr>>,
    any_host: HashMap<u16, Vec<SocketAddr>>,
}

impl StaticRoutes {
    pub(super) fn new(entries: &[ConnectTo]) -> StaticRoutes {
        let mut routes = StaticRoutes::default();
        for e in entries {
            if e.host == "*" {
                routes.any_host.insert(e.port, e.addrs.clone());
            } else {
                routes
                    .exact
                    .insert((e.host.to_ascii_lowercase(), e.port), e.addrs.clone());
            }
        }
        routes
    }

    /// Whether `host:port` has a static route: the operator's own, used as given.
    pub(super) fn is_static(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.exact.contains_key(&(host.to_ascii_lowercase(), port))
            || (host.parse::<std::net::IpAddr>().is_err() && self.any_host.contains_key(&port))
    }

    pub(super) async fn resolve(
        &self,
        host: &str,
        port: u16,
        family: Family,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> =
            if let Some(a) = self.exact.get(&(host.to_ascii_lowercase(), port)) {
                a.clone()
            } else if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                vec![SocketAddr::new(ip, port)]
            } else if let Some(a) = self.any_host.get(&port) {
                a.clone()
            } else {
                tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| FetchError::Dns(format!("{host}: {e}")))?
                    .collect()
            };
        let filtered: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match family {
                Family::Any => true,
                Family::V4 => a.is_ipv4(),
                Family::V6 => a.is_ipv6(),
            })
            .collect();
        if filtered.is_empty() {
            return Err(FetchError::Dns(match family {
                Family::Any => format!("{host} has no address"),
                f => format!("{host} has no {f} address"),
            }));
        }
        Ok(filtered)
    }
}

#[derive(Debug, Clone)]
pub(super) struct ConnectError(pub(super) FetchError);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectError {}

#[derive(Clone)]
pub(super) struct Connector {
    pub(super) routes: Arc<StaticRoutes>,
    pub(super) tls: tokio_rustls::TlsConnector,
    pub(super) family: Family,
    pub(super) connect_timeout: Duration,
    /// Internal addresses that may be connected to (`[http] allow_internal`).
    pub(super) allow_internal: Arc<Vec<ipnet::IpNet>>,
}

/// A plain or TLS connection.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

fn describe_tls(e: &std::io::Error) -> String {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match inner {
            rustls::Error::InvalidCertificate(c) => match c {
                rustls::CertificateError::Expired
                | rustls::CertificateError::ExpiredContext { .. } => "certificate expired".into(),
                rustls::CertificateError::UnknownIssuer => {
                    "certificate not trusted (unknown issuer, e.g. self-signed)".into()
                }
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => {
                    "certificate is for another host name".into()
                }
                other => format!("invalid certificate: {other:?}"),
            },
            other => other.to_string(),
        };
    }
    e.to_string()
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Stream>, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let fail = |e: FetchError| ConnectError(e);
            let host = uri
                .host()
                .ok_or_else(|| fail(FetchError::Protocol(format!("{uri}: no host"))))?
                .to_string();
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let mut addrs = this
                .routes
                .resolve(&host, port, this.family)
                .await
                .map_err(fail)?;
            // Never the inside of the checker's own network, whatever a URL or a redirect
            // names: the check is on the addresses connected to, after resolution.
            if !this.routes.is_static(&host, port) {
                let all = addrs.clone();
                addrs.retain(|a| !shared::net::is_forbidden(a.ip(), &this.allow_internal));
                if addrs.is_empty() {
                    return Err(fail(FetchError::Forbidden(format!(
                        "{host} is at an internal address ({}); allow it with [http] allow_internal",
                        all.iter()
                            .map(|a| a.ip().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))));
                }
            }
            let mut last = None;
            let mut tcp = None;
            for addr in addrs {
                match tokio::time::timeout(this.connect_timeout, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        tcp = Some(s);
                        break;
                    }
                    Ok(Err(e)) => last = Some(FetchError::Connect(format!("{addr}: {e}"))),
                    Err(_) => last = Some(FetchError::Timeout("connecting")),
                }
            }
            let tcp =
                tcp.ok_or_else(|| fail(last.unwrap_or(FetchError::Connect("no address".into()))))?;
            tcp.set_nodelay(true).ok();
            if !https {
                return Ok(TokioIo::new(Stream::Plain(tcp)));
            }
            let name = ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
            .map_err(|e| fail(FetchError::Tls(format!("{host}: {e}"))))?;
            let tls = tokio::time::timeout(this.connect_timeout, this.tls.connect(name, tcp))
                .await
                .map_err(|_| fail(FetchError::Timeout("in the TLS handshake")))?
                .map_err(|e| fail(FetchError::Tls(describe_tls(&e))))?;
            Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
        })
    }
}
