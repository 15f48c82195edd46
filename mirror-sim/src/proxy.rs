//! An HTTP proxy that reaches the simulated network by its registered names, so real
//! clients (dnf, curl) can use it as printed: `proxy=http://127.0.0.1:PORT` in a repo file,
//! with `sslcacert=` naming the simulator's CA. Plain HTTP requests in absolute form are
//! forwarded; HTTPS goes through `CONNECT` tunnels. A simulated host goes where the checker's
//! static routes send it (a mirror meant to refuse connections refuses them here too); a
//! loopback address (the mirrorlist server) is reached directly; anything else is refused, so
//! nothing leaves the machine.

use crate::Route;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

type Body = BoxBody<Bytes, hyper::Error>;

/// Where the proxy sends each (host, port).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    routes: HashMap<(String, u16), Vec<SocketAddr>>,
}

impl Targets {
    pub fn new(routes: &[Route]) -> Targets {
        Targets {
            routes: routes
                .iter()
                .map(|r| ((r.host.clone(), r.port), r.addrs.clone()))
                .collect(),
        }
    }

    /// The addresses for `host:port`, or why not.
    pub fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(addrs) = self.routes.get(&(host.to_ascii_lowercase(), port)) {
            return Ok(addrs.clone());
        }
        let ip: Option<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
            Some(IpAddr::from([127, 0, 0, 1]))
        } else {
            host.parse().ok()
        };
        match ip {
            Some(ip) if ip.is_loopback() => Ok(vec![SocketAddr::new(ip, port)]),
            _ => Err(format!(
                "{host}:{port} is neither a simulated host nor a loopback address"
            )),
        }
    }
}

fn full(status: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(
            Full::new(Bytes::from(text + "\n"))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("static response")
}

async fn connect(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address");
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn proxy(targets: Arc<Targets>, req: Request<Incoming>) -> Response<Body> {
    let authority = req.uri().authority().cloned();
    let Some(authority) = authority else {
        return full(
            StatusCode::BAD_REQUEST,
            "this is a proxy: ask for absolute URLs (http://host/...) or CONNECT host:port".into(),
        );
    };
    let tunnel = req.method() == Method::CONNECT;
    let port = authority
        .port_u16()
        .unwrap_or(if tunnel { 443 } else { 80 });
    let addrs = match targets.resolve(authority.host(), port) {
        Ok(a) => a,
        Err(why) => return full(StatusCode::FORBIDDEN, why),
    };
    if tunnel {
        let upstream = match connect(&addrs).await {
            Ok(s) => s,
            Err(e) => return full(StatusCode::BAD_GATEWAY, format!("{authority}: {e}")),
        };
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut client = TokioIo::new(upgraded);
                let mut upstream = upstream;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
        return Response::new(
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed(),
        );
    }
    if req.uri().scheme_str() != Some("http") {
        return full(
            StatusCode::BAD_REQUEST,
            "only http:// URLs are forwarded; use CONNECT for https".into(),
        );
    }
    let stream = match connect(&addrs).await {
        Ok(s) => s,
        Err(e) => return full(StatusCode::BAD_GATEWAY, format!("{authority}: {e}")),
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return full(
            StatusCode::BAD_GATEWAY,
            format!("{authority}: handshake failed"),
        );
    };
    tokio::spawn(conn);
    let (mut parts, body) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .expect("a path is a URI");
    parts.headers.remove("proxy-connection");
    parts.headers.remove(header::PROXY_AUTHORIZATION);
    if !parts.headers.contains_key(header::HOST) {
        if let Ok(h) = authority.as_str().parse() {
            parts.headers.insert(header::HOST, h);
        }
    }
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(|b| b.boxed()),
        Err(e) => full(StatusCode::BAD_GATEWAY, format!("{authority}: {e}")),
    }
}

/// Serves the proxy on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, targets: Targets) {
    let targets = Arc::new(targets);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let targets = targets.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let targets = targets.clone();
                async move { Ok::<_, std::convert::Infallible>(proxy(targets, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_names_and_loopback_only() {
        let sim: SocketAddr = "127.0.0.1:4443".parse().unwrap();
        let t = Targets::new(&[Route {
            host: "mirror.example.org".into(),
            port: 443,
            addrs: vec![sim],
        }]);
        assert_eq!(t.resolve("Mirror.Example.org", 443), Ok(vec![sim]));
        assert_eq!(
            t.resolve("127.0.0.1", 8080),
            Ok(vec!["127.0.0.1:8080".parse().unwrap()])
        );
        assert_eq!(
            t.resolve("[::1]", 8080),
            Ok(vec!["[::1]:8080".parse().unwrap()])
        );
        assert!(
            t.resolve("mirror.example.org", 80).is_err(),
            "no such route"
        );
        let refused = t.resolve("example.com", 80).unwrap_err();
        assert!(refused.contains("neither a simulated host"), "{refused}");
        assert!(t.resolve("10.0.0.1", 80).is_err());
    }
}
