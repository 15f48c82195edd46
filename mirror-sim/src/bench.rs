//! Helpers for the server benchmark: a snapshot in which every mirror of a registry is up to
//! date everywhere, and a minimal hyper server answering a fixed body (the ceiling).

use anyhow::Context;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use shared::catalog::Catalog;
use shared::model::RepomdVersion;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SyntheticSnapshot {
    #[arg(long)]
    pub registry: PathBuf,
    #[arg(long)]
    pub catalog: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct FixedServer {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Size of the body every request gets.
    #[arg(long)]
    pub body_bytes: usize,
}

pub fn synthetic_snapshot(args: SyntheticSnapshot) -> anyhow::Result<()> {
    let catalog = Catalog::load(&args.catalog)?;
    let mirrors = shared::registry::import_dir(&args.registry)
        .with_context(|| args.registry.display().to_string())?
        .mirrors;
    let now = shared::time::now();
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        let body = crate::repo::build(&d.path, 1, &crate::repo::Packages::synthetic()).repomd;
        let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&body));
        let hex = |len: usize| sha.repeat(2)[..len].to_string();
        Some(RepomdVersion {
            size: body.len() as u64,
            timestamp: crate::repo::version_timestamp(1),
            md5: hex(32),
            sha1: hex(40),
            sha256: sha.clone(),
            sha512: hex(128),
            first_seen: now,
        })
    });
    // One above the snapshot already there, so a running server swaps the new one in.
    let serial = shared::snapshot::read(&args.out).map_or(1, |old| old.serial + 1);
    let started = std::time::Instant::now();
    let snap = shared::snapshot::build(&input, serial, now, "mirror-sim synthetic-snapshot");
    let built = started.elapsed();
    shared::snapshot::write_atomic(&snap, &args.out, None)?;
    println!(
        "wrote snapshot {serial}: {} mirrors, {} up-to-date pairs; built in {} ms, written in {} ms",
        snap.mirrors.len(),
        snap.up_to_date_pairs(),
        built.as_millis(),
        (started.elapsed() - built).as_millis()
    );
    Ok(())
}

pub async fn fixed_server(args: FixedServer) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let body = Bytes::from(vec![b'x'; args.body_bytes]);
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                let body = body.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(body),
                    ))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Debug, clap::Args)]
pub struct Load {
    /// The server to load.
    #[arg(long)]
    pub target: SocketAddr,
    /// Request paths (with query), one per line; each request takes one at random.
    #[arg(long)]
    pub paths: PathBuf,
    /// Requests per second to send, whatever the answers' speed (an open loop).
    #[arg(long)]
    pub rate: u32,
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Keep-alive connections the requests are spread over.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Sent as `X-Forwarded-For: <random public IPv4>` when set.
    #[arg(long)]
    pub random_clients: bool,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Drives a server at a fixed rate and reports latency percentiles. Each request has a
/// planned send time; its latency counts from that time, not from when a busy connection got
/// round to sending it, so a server that falls behind shows it (no coordinated omission).
pub async fn load(args: Load) -> anyhow::Result<()> {
    let paths: Vec<String> = std::fs::read_to_string(&args.paths)
        .with_context(|| args.paths.display().to_string())?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!paths.is_empty(), "{}: no paths", args.paths.display());
    anyhow::ensure!(
        args.rate > 0 && args.connections > 0,
        "rate and connections must be > 0"
    );
    let paths = std::sync::Arc::new(paths);
    let total = u64::from(args.rate) * u64::from(args.seconds);
    let interval = std::time::Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let start = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
    let mut tasks = Vec::new();
    for conn in 0..u64::from(args.connections) {
        let paths = paths.clone();
        let (target, step, random_clients) = (
            args.target,
            u64::from(args.connections),
            args.random_clients,
        );
        let mut rng = args.seed ^ (conn + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tasks.push(tokio::spawn(async move {
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let stream = tokio::net::TcpStream::connect(target).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let (mut latencies, mut own) = (Vec::new(), Vec::new());
            let mut failures = 0u64;
            let mut i = conn;
            // When the connection's last answer came: a request planned before then waited
            // for the server, one planned after it only for this generator's timer.
            let mut free_at = start;
            while i < total {
                let planned = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(planned).await;
                let sent = tokio::time::Instant::now();
                let path = &paths[(next() % paths.len() as u64) as usize];
                let mut req = hyper::Request::get(path.as_str()).header("host", target.to_string());
                if random_clients {
                    let r = next();
                    let ip = format!(
                        "{}.{}.{}.{}",
                        1 + r % 223,
                        (r >> 8) % 256,
                        (r >> 16) % 256,
                        1 + (r >> 24) % 254
                    );
                    req = req.header("x-forwarded-for", ip);
                }
                let req = req.body(http_body_util::Empty::<Bytes>::new())?;
                sender.ready().await?;
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = http_body_util::BodyExt::collect(resp.into_body()).await?;
                        if ok {
                            latencies.push(planned.elapsed());
                            own.push(match free_at > planned {
                                true => planned.elapsed(),
                                false => sent.elapsed(),
                            });
                        } else {
                            failures += 1;
                        }
                    }
                    Err(_) => failures += 1,
                }
                free_at = tokio::time::Instant::now();
                i += step;
            }
            anyhow::Ok((latencies, own, failures))
        }));
    }
    let (mut all, mut own) = (Vec::new(), Vec::new());
    let mut failures = 0;
    for t in tasks {
        let (l, o, f) = t.await??;
        all.extend(l);
        own.extend(o);
        failures += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    own.sort();
    let pct = |all: &[std::time::Duration], p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "planned {total} requests at {} req/s over {} connections: {} answered in {elapsed:.1} s ({:.0} req/s), {failures} failed; latency from the planned send time p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; without this generator's own timer lateness (up to 1 ms: tokio's timer) p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
        args.rate,
        args.connections,
        all.len(),
        all.len() as f64 / elapsed,
        pct(&all, 0.50),
        pct(&all, 0.99),
        pct(&all, 0.999),
        pct(&all, 1.0),
        pct(&own, 0.50),
        pct(&own, 0.99),
        pct(&own, 0.999),
    );
    Ok(())
}
