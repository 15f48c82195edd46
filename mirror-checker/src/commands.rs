//! What each subcommand does.

use crate::cli::{CatalogCommand, Cli, Command, RegistryCommand};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::service::Checker;
use shared::catalog::{import_almalinux, Catalog};
use shared::registry::{self, FileOutcome};
use shared::time::now;
use std::path::Path;

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(&cli)?;
    let opened = Opened::default();
    match dispatch(config, &opened, cli).await {
        Ok(()) => Ok(()),
        Err(e) => Err(opened.explain(e).await),
    }
}

/// The store a command opened, kept so that a write kept waiting is told who holds it.
#[derive(Default)]
struct Opened(std::sync::OnceLock<store::Store>);

impl Opened {
    async fn store(&self, config: &Config) -> Result<store::Store> {
        let store = config.open_store().await?;
        Ok(self.0.get_or_init(|| store).clone())
    }

    /// A store that must exist already (read-only commands never create one).
    async fn existing(&self, config: &Config) -> Result<store::Store> {
        let store = config.open_existing_store().await?;
        Ok(self.0.get_or_init(|| store).clone())
    }

    async fn checker(&self, config: Config) -> Result<Checker> {
        let store = self.store(&config).await?;
        Checker::with_store(config, store)
    }

    async fn explain(&self, e: Error) -> Error {
        match self.0.get() {
            Some(store) => crate::config::explain(store, e).await,
            None => e,
        }
    }
}

async fn dispatch(config: Config, opened: &Opened, cli: Cli) -> Result<()> {
    match cli.command {
        Command::ImportRegistry { dir, sync, json } => {
            import_registry(&config, opened, &dir, sync, json).await
        }
        Command::Registry {
            command: RegistryCommand::Check { dir, json },
        } => {
            let report = read_registry(&dir, &config.registry_rules())?;
            if json {
                say!("{}", serde_json::json!({ "files": report.files }));
            } else {
                crate::output::text(&report.details());
                say!("{}", report.summary());
            }
            match report.count(FileOutcome::Rejected) {
                0 => Ok(()),
                n => Err(Error::Rejected(n, false)),
            }
        }
        Command::ExpireAlternates { dirs, all } => {
            expire_alternates(&config, opened, &dirs, all).await
        }
        Command::ExportRegistry { dir } => export_registry(&config, opened, &dir).await,
        Command::Catalog { command } => catalog(&config, opened, command).await,
        Command::Scan => {
            let checker = opened.checker(config).await?;
            let report = checker.scan(now()).await?;
            for (path, problem) in &report.errors {
                say!("error: {path}: {problem}");
            }
            say!(
                "scanned {} directories: {} new versions, {} unreadable",
                report.directories,
                report.new_versions.len(),
                report.errors.len()
            );
            Ok(())
        }
        Command::Crawl { once } => {
            let checker = opened.checker(config).await?;
            let cancel = tokio_util::sync::CancellationToken::new();
            let on_signal = cancel.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                on_signal.cancel();
            });
            if once {
                let summary = checker.crawl(None, &cancel).await?;
                say!("{}", summary.describe());
                Ok(())
            } else {
                checker.daemon(cancel).await
            }
        }
        Command::Status { mirror, json } => {
            crate::report::print(&opened.existing(&config).await?, &mirror, json).await
        }
        Command::Mirrors {
            state,
            country,
            json,
        } => {
            crate::report::list(
                &opened.existing(&config).await?,
                state,
                country.as_deref(),
                json,
            )
            .await
        }
        Command::Propagation {
            directory,
            versions,
            json,
        } => {
            crate::report::propagation(
                &opened.existing(&config).await?,
                directory.as_deref(),
                versions,
                json,
            )
            .await
        }
        Command::Recheck { mirrors, all } => {
            if mirrors.is_empty() && !all {
                return Err(Error::Usage(
                    "name the mirrors to recheck, or give --all".into(),
                ));
            }
            let store = opened.store(&config).await?;
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
                return Err(Error::UnknownMirror(unknown.join(", ")));
            }
            if all {
                ids = known.iter().map(|(id, _)| *id).collect();
            }
            store
                .schedule_new_mirrors(&config.daemon.schedule(), now())
                .await?;
            let n = store.make_due(&ids, now()).await?;
            say!("{n} mirrors are due now; the checker daemons check them at their next tick");
            Ok(())
        }
        Command::Snapshot { out } => {
            let mut config = config;
            if let Some(out) = out {
                config.snapshot_path = out;
            }
            let record = opened.checker(config).await?.publish().await?;
            say!(
                "published snapshot {} to {}: {} mirrors served, {} directories, {} bytes, sha256 {}",
                record.serial,
                record.path,
                record.mirrors,
                record.directories,
                record.size,
                record.sha256
            );
            Ok(())
        }
        Command::Keygen { path } => keygen(&path),
        c @ (Command::Serve { .. }
        | Command::Mail { .. }
        | Command::Admin { .. }
        | Command::Notice { .. }
        | Command::Maintenance { .. }) => control_plane(config, opened, c).await,
    }
}

/// The control plane's commands: `serve`, `mail`, `admin`, `notice`, `maintenance`.
async fn control_plane(config: Config, opened: &Opened, command: Command) -> Result<()> {
    use crate::control::commands as control;
    if let Command::Mail { command } = command {
        return control::mail(&config, command);
    }
    let store = opened.store(&config).await?;
    match command {
        Command::Serve { listen } => {
            control::serve(&config, store, listen, shutdown_signal()).await
        }
        Command::Admin { command } => control::admin(&config, store, command).await,
        Command::Notice {
            subject,
            body,
            country,
        } => control::notice((&config, &store), &subject, &body, country.as_deref()).await,
        Command::Maintenance { command } => control::maintenance(&config, store, command).await,
        _ => unreachable!("dispatch() hands over the control plane's commands only"),
    }
}

/// Writes a new signing key pair: `path` (mode 0600, never over an existing file) and
/// `path.pub`.
fn keygen(path: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (private, public) = shared::snapshot::SigningKey::generate();
    let mut public_path = path.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = std::path::PathBuf::from(public_path);
    let write = |p: &Path, text: &str, mode: u32| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .map_err(Error::io("cannot create the key file", p))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(Error::io("cannot write the key file", p))
    };
    write(path, &private, 0o600)?;
    write(&public_path, &public, 0o644)?;
    let key = shared::snapshot::SigningKey::read(path).map_err(|e| Error::Config(e.to_string()))?;
    say!(
        "wrote the private key to {} and the public key (id {}) to {}\n\
         checker: snapshot_signing_key = \"{}\"\nservers: --snapshot-key {}",
        path.display(),
        key.public().id_hex(),
        public_path.display(),
        path.display(),
        public_path.display()
    );
    Ok(())
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

fn read_registry(dir: &Path, rules: &registry::Rules) -> Result<registry::ImportReport> {
    let report = registry::import_dir_with(dir, rules)
        .map_err(Error::io("cannot read the registry folder", dir))?;
    if report.files.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no .yml registry files",
            dir.display()
        )));
    }
    Ok(report)
}

async fn expire_alternates(
    config: &Config,
    opened: &Opened,
    dirs: &[String],
    all: bool,
) -> Result<()> {
    if dirs.is_empty() && !all {
        return Err(Error::Usage(
            "name the directories (or prefixes such as 9.8/BaseOS) to expire, or give --all".into(),
        ));
    }
    let store = opened.store(config).await?;
    let known = store.directory_ids().await?;
    let mut ids = Vec::new();
    for prefix in dirs {
        let prefix = prefix.trim_matches('/');
        let matched: Vec<i64> = known
            .iter()
            .filter(|(path, _)| path.as_str() == prefix || path.starts_with(&format!("{prefix}/")))
            .map(|(_, id)| *id)
            .collect();
        if matched.is_empty() {
            return Err(Error::Usage(format!(
                "no catalog directory is {prefix} or under it (see `catalog show --directories`)"
            )));
        }
        ids.extend(matched);
    }
    if all {
        ids = known.values().copied().collect();
    }
    ids.sort_unstable();
    ids.dedup();
    let n = store.expire_alternates(&ids, now()).await?;
    say!(
        "expired the alternates of {n} directories: from the next snapshot only mirrors with \
         their newest version are served (the daemon's leader publishes it at its next tick; \
         `mirror-checker snapshot` publishes it now)"
    );
    Ok(())
}

async fn import_registry(
    config: &Config,
    opened: &Opened,
    dir: &Path,
    sync: bool,
    json: bool,
) -> Result<()> {
    let report = read_registry(dir, &config.registry_rules())?;
    let store = opened.store(config).await?;
    let work = store.begin_work("import-registry").await?;
    let applied = store.apply_registry(&report.mirrors, sync).await;
    store.end_work(&work).await?;
    let outcome = applied?;
    if json {
        say!(
            "{}",
            serde_json::json!({ "files": report.files, "store": {
            "added": outcome.added, "updated": outcome.updated, "unchanged": outcome.unchanged,
            "removed": outcome.removed, "kept": outcome.kept } })
        );
    } else {
        crate::output::text(&report.details());
        say!("{}", report.summary());
        say!("store: {}", outcome.summary());
    }
    tracing::info!(
        accepted = report.count(FileOutcome::Accepted),
        warnings = report.count(FileOutcome::AcceptedWithWarnings),
        rejected = report.count(FileOutcome::Rejected),
        "registry imported"
    );
    match report.count(FileOutcome::Rejected) {
        0 => Ok(()),
        n => Err(Error::Rejected(n, true)),
    }
}

async fn catalog(config: &Config, opened: &Opened, command: CatalogCommand) -> Result<()> {
    let loaded = match command {
        CatalogCommand::Load { file } => Catalog::load(&file)?,
        CatalogCommand::ImportAlmalinux { file, write_toml } => {
            let catalog = Catalog::from_spec(import_almalinux(&file)?)?;
            if let Some(out) = write_toml {
                std::fs::write(&out, catalog.spec.to_toml())
                    .map_err(Error::io("cannot write", &out))?;
                say!("wrote {}", out.display());
            }
            catalog
        }
        CatalogCommand::Show { directories } => {
            let store = opened.existing(config).await?;
            let catalog = store.load_catalog().await?.ok_or(Error::NoCatalog)?;
            print_catalog(&catalog, directories);
            return Ok(());
        }
    };
    let store = opened.store(config).await?;
    store.save_catalog(&loaded).await?;
    print_catalog(&loaded, false);
    Ok(())
}

fn print_catalog(catalog: &Catalog, all: bool) {
    let vault = catalog.directories.iter().filter(|d| d.vault).count();
    say!(
        "{}: {} directories, {} on mirrors; {vault} more of {} vault releases",
        catalog.spec.distribution,
        catalog.directories.len() - vault,
        catalog.mirrored().count(),
        catalog.spec.vault_releases.len()
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
        say!(
            "  {}{aliases}: {count} directories on mirrors",
            release.version
        );
    }
    if all {
        for d in &catalog.directories {
            say!(
                "  {}{}",
                d.path,
                if d.vault_only { "  [vault]" } else { "" }
            );
        }
    }
}

/// `export-registry DIR`: every mirror as a registry file, the control plane's marked.
async fn export_registry(config: &Config, opened: &Opened, dir: &Path) -> Result<()> {
    let store = opened.existing(config).await?;
    let mirrors = store.load_mirrors().await?;
    let control = store.control_managed().await?;
    let marked = |name: &str| control.contains(name);
    let n = registry::export_dir_marking(&mirrors, &marked, dir)
        .map_err(Error::io("cannot write into", dir))?;
    say!(
        "wrote {n} registry files into {} ({} of mirrors registered through the control plane, marked so)",
        dir.display(),
        control.len()
    );
    Ok(())
}
