//! Helpers for the server benchmark: a snapshot in which every mirror of a registry is up to
//! date everywhere, and a minimal hyper server answering a fixed body (the ceiling).

use anyhow::Context;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use shared::catalog::Catalog;
use shared::model::{CheckOutcome, Family, HealthState};
use shared::registry::Protocol;
use shared::snapshot::{SeenCopy, SnapshotInput};
use shared::store::{CheckRecord, HealthRecord, RepomdVersion};
use std::collections::HashMap;
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
    let mirrors: Vec<_> = shared::registry::import_dir(&args.registry)
        .with_context(|| args.registry.display().to_string())?
        .mirrors
        .into_iter()
        .enumerate()
        .map(|(i, m)| (i as i64, m))
        .collect();
    let directory_ids: HashMap<String, i64> = catalog
        .directories
        .iter()
        .enumerate()
        .map(|(i, d)| (d.path.clone(), i as i64))
        .collect();
    let now = shared::store::now();
    let mut history = HashMap::new();
    let mut checks = Vec::new();
    for (i, d) in catalog.mirrored() {
        let body = crate::repomd::render(&d.path, 1);
        let sha = format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())
        );
        let hex = |len: usize| sha.repeat(2)[..len].to_string();
        history.insert(
            i as i64,
            vec![RepomdVersion {
                size: body.len() as u64,
                timestamp: crate::repomd::version_timestamp(1),
                md5: hex(32),
                sha1: hex(40),
                sha256: sha.clone(),
                sha512: hex(128),
                first_seen: now,
            }],
        );
        for (id, m) in &mirrors {
            for p in [Protocol::Http, Protocol::Https] {
                if m.base_url(d.module.as_deref(), p).is_some() {
                    let rec = CheckRecord {
                        mirror_id: *id,
                        directory_id: i as i64,
                        protocol: p,
                        family: Family::Any,
                        outcome: CheckOutcome::Current,
                        sha256_seen: Some(sha.clone()),
                        versions_behind: None,
                        lag_seconds: None,
                        http_status: Some(200),
                        latency_ms: None,
                        bytes: 0,
                        etag: None,
                        last_modified: None,
                        checked_at: now,
                        error: None,
                    };
                    checks.extend(SeenCopy::from_check(&rec));
                }
            }
        }
    }
    let mut health = Vec::new();
    for (id, _) in &mirrors {
        for capability in ["http", "https", "ipv4", "ipv6"] {
            health.push(HealthRecord {
                mirror_id: *id,
                capability: capability.into(),
                state: HealthState::Up,
                since: now,
                reason: String::new(),
                consecutive_ok: 1,
                consecutive_failed: 0,
            });
        }
    }
    let input = SnapshotInput {
        catalog,
        mirrors,
        directory_ids,
        history,
        checks,
        health,
        fetched_subnets: HashMap::new(),
    };
    let serial = std::fs::metadata(&args.out).map_or(1, |m| m.len() % 1000 + 2);
    let snap = shared::snapshot::build(&input, serial, now, "mirror-sim synthetic-snapshot");
    shared::snapshot::write_atomic(&snap, &args.out)?;
    println!(
        "wrote snapshot {serial}: {} mirrors, {} up-to-date pairs",
        snap.mirrors.len(),
        snap.up_to_date_pairs()
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
