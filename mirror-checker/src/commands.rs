//! What each subcommand does.

use crate::cli::{CatalogCommand, Cli, Command};
use crate::config::Config;
use crate::service::{publish_snapshot, Checker};
use anyhow::{bail, Context, Result};
use shared::catalog::{import_almalinux, Catalog};
use shared::registry::{self, FileOutcome};
use shared::store::{now, Store};
use std::path::Path;

/// Makes sure the folder of a SQLite file exists, so a first run just works.
fn prepare_sqlite_dir(url: &str) -> Result<()> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if url.contains("://") && !url.starts_with("sqlite:") {
        return Ok(());
    }
    let path = path.split('?').next().unwrap_or(path);
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Ok(())
}

pub async fn open_store(config: &Config) -> Result<Store> {
    prepare_sqlite_dir(&config.database)?;
    Store::open(&config.database)
        .await
        .with_context(|| format!("database {}", redact(&config.database)))
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(&cli).map_err(anyhow::Error::msg)?;
    match cli.command {
        Command::ImportRegistry { dir, sync, json } => {
            import_registry(&config, &dir, sync, json).await
        }
        Command::ExportRegistry { dir } => {
            let store = open_store(&config).await?;
            let mirrors = store.load_mirrors().await?;
            let n = registry::export_dir(&mirrors, &dir)
                .with_context(|| format!("cannot write into {}", dir.display()))?;
            println!("wrote {n} registry files into {}", dir.display());
            Ok(())
        }
        Command::Catalog { command } => catalog(&config, command).await,
        Command::Scan => {
            let checker = Checker::new(config).await?;
            let report = checker.scan(now()).await?;
            for (path, problem) in &report.errors {
                println!("error: {path}: {problem}");
            }
            println!(
                "scanned {} directories: {} new versions, {} unreadable",
                report.directories,
                report.new_versions.len(),
                report.errors.len()
            );
            Ok(())
        }
        Command::Crawl { once } => {
            let checker = Checker::new(config).await?;
            let cancel = tokio_util::sync::CancellationToken::new();
            let on_signal = cancel.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                on_signal.cancel();
            });
            if once {
                let summary = checker.crawl(None, &cancel).await?;
                println!("{}", summary.describe());
                Ok(())
            } else {
                checker.daemon(cancel).await
            }
        }
        Command::Status { mirror } => crate::status::print(&config, &mirror).await,
        Command::Recheck { mirrors, all } => {
            if mirrors.is_empty() && !all {
                bail!("name the mirrors to recheck, or give --all");
            }
            let store = open_store(&config).await?;
            let known = store.load_mirrors_with_ids().await?;
            let mut ids = Vec::new();
            let mut unknown = Vec::new();
            for name in &mirrors {
                match known.iter().find(|(_, m)| &m.name == name) {
                    Some((id, _)) => ids.push(*id),
                    None => unknown.push(name.as_str()),
                }
            }
            if !unknown.is_empty() {
                bail!("no mirror is registered as {}", unknown.join(", "));
            }
            if all {
                ids = known.iter().map(|(id, _)| *id).collect();
            }
            store
                .schedule_new_mirrors(&config.daemon.schedule(), now())
                .await?;
            let n = store.make_due(&ids, now()).await?;
            println!("{n} mirrors are due now; the checker daemons check them at their next tick");
            Ok(())
        }
        Command::Snapshot { out } => {
            let store = open_store(&config).await?;
            let path = out.unwrap_or_else(|| config.snapshot_path.clone());
            let record = publish_snapshot(&store, &path).await?;
            println!(
                "published snapshot {} to {}: {} mirrors, {} directories, {} bytes, sha256 {}",
                record.serial,
                record.path,
                record.mirrors,
                record.directories,
                record.size,
                record.sha256
            );
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

async fn import_registry(config: &Config, dir: &Path, sync: bool, json: bool) -> Result<()> {
    let report = registry::import_dir(dir)
        .with_context(|| format!("cannot read the registry folder {}", dir.display()))?;
    if report.files.is_empty() {
        bail!("{} holds no .yml registry files", dir.display());
    }
    let store = open_store(config).await?;
    let outcome = store.apply_registry(&report.mirrors, sync).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "files": report.files, "store": {
            "added": outcome.added, "updated": outcome.updated, "unchanged": outcome.unchanged,
            "removed": outcome.removed, "kept": outcome.kept } })
        );
    } else {
        print!("{}", report.details());
        println!("{}", report.summary());
        println!("store: {}", outcome.summary());
    }
    tracing::info!(
        accepted = report.count(FileOutcome::Accepted),
        warnings = report.count(FileOutcome::AcceptedWithWarnings),
        rejected = report.count(FileOutcome::Rejected),
        "registry imported"
    );
    Ok(())
}

async fn catalog(config: &Config, command: CatalogCommand) -> Result<()> {
    let loaded = match command {
        CatalogCommand::Load { file } => Catalog::load(&file)?,
        CatalogCommand::ImportAlmalinux { file, write_toml } => {
            let catalog = Catalog::from_spec(import_almalinux(&file)?)?;
            if let Some(out) = write_toml {
                std::fs::write(&out, catalog.spec.to_toml())
                    .with_context(|| format!("cannot write {}", out.display()))?;
                println!("wrote {}", out.display());
            }
            catalog
        }
        CatalogCommand::Show { directories } => {
            let store = open_store(config).await?;
            let Some(catalog) = store.load_catalog().await? else {
                bail!("no catalog is stored yet: run `mirror-checker catalog load FILE` first");
            };
            print_catalog(&catalog, directories);
            return Ok(());
        }
    };
    let store = open_store(config).await?;
    store.save_catalog(&loaded).await?;
    print_catalog(&loaded, false);
    Ok(())
}

fn print_catalog(catalog: &Catalog, all: bool) {
    println!(
        "{}: {} directories, {} on mirrors",
        catalog.spec.distribution,
        catalog.directories.len(),
        catalog.mirrored().count()
    );
    for release in &catalog.spec.releases {
        let count = catalog
            .mirrored()
            .filter(|(_, d)| d.release == release.version)
            .count();
        let aliases = if release.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", release.aliases.join(", "))
        };
        println!(
            "  {}{aliases}: {count} directories on mirrors",
            release.version
        );
    }
    if all {
        for d in &catalog.directories {
            println!(
                "  {}{}",
                d.path,
                if d.vault_only { "  [vault]" } else { "" }
            );
        }
    }
}
