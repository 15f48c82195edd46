//! Helpers for the server benchmark: a snapshot in which every mirror of a registry is up to
//! date everywhere, and a minimal hyper server answering a fixed body (the ceiling).

use anyhow::Context;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use shared::catalog::Catalog;
use shared::store::RepomdVersion;
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
    let now = shared::store::now();
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        let body = crate::repomd::render(&d.path, 1);
        let sha = format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())
        );
        let hex = |len: usize| sha.repeat(2)[..len].to_string();
        Some(RepomdVersion {
            size: body.len() as u64,
            timestamp: crate::repomd::version_timestamp(1),
            md5: hex(32),
            sha1: hex(40),
            sha256: sha.clone(),
            sha512: hex(128),
            first_seen: now,
        })
    });
    // One above the snapshot already there, so a running server swaps the new one in.
    let serial = shared::snapshot::read(&args.out).map_or(1, |old| old.serial + 1);
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
