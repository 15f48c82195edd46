//! The baseline for the crawl benchmark: a plain hyper client that fetches every repomd.xml
//! from the simulator with the same concurrency and nothing else (no parsing, no hashing, no
//! store). Its rate is the ceiling the checker's crawl is compared with.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct PlainClient {
    /// Registry folder.
    #[arg(long)]
    pub registry: PathBuf,
    /// Catalog TOML.
    #[arg(long)]
    pub catalog: PathBuf,
    /// The checker-network.toml `mirror-sim serve` wrote (routes and CA).
    #[arg(long)]
    pub network: PathBuf,
    /// Requests in flight.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Requests in flight to one host.
    #[arg(long, default_value_t = 4)]
    pub per_host: usize,
}

#[derive(Deserialize)]
struct Network {
    http: NetworkHttp,
}

#[derive(Deserialize)]
struct NetworkHttp {
    extra_ca_files: Vec<PathBuf>,
    connect_to: Vec<Route>,
}

#[derive(Deserialize)]
struct Route {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
}

#[derive(Clone)]
struct Connector {
    routes: Arc<HashMap<(String, u16), SocketAddr>>,
    tls: tokio_rustls::TlsConnector,
}

enum Io {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

impl tokio::io::AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connection for Io {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<Io>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<TokioIo<Io>, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_string();
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let addr = *this
                .routes
                .get(&(host.clone(), port))
                .ok_or_else(|| std::io::Error::other(format!("no route to {host}:{port}")))?;
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            if !https {
                return Ok(TokioIo::new(Io::Plain(tcp)));
            }
            let name =
                rustls_pki_types::ServerName::try_from(host).map_err(std::io::Error::other)?;
            Ok(TokioIo::new(Io::Tls(Box::new(
                this.tls.connect(name, tcp).await?,
            ))))
        })
    }
}

pub async fn run(args: PlainClient) -> anyhow::Result<()> {
    let catalog = shared::catalog::Catalog::load(&args.catalog)?;
    let mirrors = shared::registry::import_dir(&args.registry)?.mirrors;
    let network: Network = toml::from_str(
        &std::fs::read_to_string(&args.network)
            .with_context(|| args.network.display().to_string())?,
    )?;
    let mut roots = rustls::RootCertStore::empty();
    for file in &network.http.extra_ca_files {
        use rustls_pki_types::pem::PemObject;
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(file)? {
            roots.add(cert?)?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let routes = network
        .http
        .connect_to
        .into_iter()
        .filter_map(|r| Some(((r.host, r.port), *r.addrs.first()?)))
        .collect();
    let connector = Connector {
        routes: Arc::new(routes),
        tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
    };
    let client: Client<Connector, http_body_util::Empty<Bytes>> =
        Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(8)
            .build(connector);
    let urls = crate::repomd_urls(&catalog, &mirrors);
    // The same shape of work as the crawler: a few requests at a time per host, a global limit.
    let mut by_host: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for url in &urls {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        by_host.entry(host).or_default().push(url.clone());
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut hosts = tokio::task::JoinSet::new();
    for (_, list) in by_host {
        let (client, limit, per_host) = (client.clone(), limit.clone(), args.per_host.max(1));
        hosts.spawn(async move {
            let list = Arc::new(list);
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut workers = tokio::task::JoinSet::new();
            for _ in 0..per_host {
                let (client, limit, list, next) =
                    (client.clone(), limit.clone(), list.clone(), next.clone());
                workers.spawn(async move {
                    let mut ok = 0usize;
                    while let Some(url) =
                        list.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let _permit = limit.acquire().await.expect("never closed");
                        let req = hyper::Request::get(url.as_str())
                            .body(http_body_util::Empty::new())
                            .expect("valid request");
                        if let Ok(resp) = client.request(req).await {
                            ok += usize::from(resp.into_body().collect().await.is_ok());
                        }
                    }
                    ok
                });
            }
            let mut ok = 0;
            while let Some(done) = workers.join_next().await {
                ok += done.unwrap_or(0);
            }
            ok
        });
    }
    let mut ok = 0usize;
    while let Some(done) = hosts.join_next().await {
        ok += done.unwrap_or(0);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "plain client: {} fetches ({ok} ok) in {secs:.2} s: {:.0} per second",
        urls.len(),
        urls.len() as f64 / secs
    );
    Ok(())
}
