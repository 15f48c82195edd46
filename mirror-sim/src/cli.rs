//! The simulator as a program: serve a registry's mirrors on loopback and write the checker
//! settings (static routes, CA, master URLs) that reach them.

use crate::{Mix, Sim, SimOptions};
use anyhow::Context;
use clap::Parser;
use shared::catalog::Catalog;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mirror-sim",
    version,
    about = "A simulated mirror network on loopback, and a plain client to measure against"
)]
pub enum Cli {
    /// Serve a registry's mirrors until interrupted.
    Serve(Serve),
    /// Fetch every repomd.xml the mirrors should carry with a plain hyper client and no other
    /// logic, and report the rate: the ceiling a crawler is measured against.
    PlainClient(crate::plain::PlainClient),
    /// Write a snapshot in which every mirror is up to date everywhere (server benchmark).
    SyntheticSnapshot(crate::bench::SyntheticSnapshot),
    /// Answer every request with a fixed body: the ceiling for the server benchmark.
    FixedServer(crate::bench::FixedServer),
    /// Send requests at a fixed rate and report latency percentiles (server benchmark).
    Load(crate::bench::Load),
    /// HTTP/2 connections that ask for many answers and never open their flow-control
    /// window; reports how many the target closed, and when.
    AttackZeroWindow(crate::attack::ZeroWindow),
    /// Many connections that send nothing, drip a header line a second, or idle after one
    /// request; reports how many the target closed, and when.
    AttackFlood(crate::attack::Flood),
}

#[derive(Debug, clap::Args)]
pub struct Serve {
    /// Registry folder (one YAML file per mirror).
    #[arg(long)]
    pub registry: PathBuf,
    /// Catalog TOML.
    #[arg(long)]
    pub catalog: PathBuf,
    /// Seed of the behaviour mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `realistic` (a few of every failure), `all-current`, or `all-slow-MS` (every mirror
    /// current, answering after MS milliseconds).
    #[arg(long, default_value = "realistic")]
    pub mix: String,
    /// Folder to write ca.pem and checker-network.toml into.
    #[arg(long)]
    pub out: PathBuf,
    /// HTTP and HTTPS ports (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub http_port: u16,
    #[arg(long, default_value_t = 0)]
    pub https_port: u16,
    /// Publish a new version at the master this often (seconds; 0: never). Mirrors that lag
    /// fall a version behind each time.
    #[arg(long, default_value_t = 0)]
    pub publish_every: u64,
    /// The proxy's port (0: any free port); its URL is written to OUT/proxy.
    #[arg(long, default_value_t = 0)]
    pub proxy_port: u16,
    /// Where the real RPM packages are built once and kept (default: the user's cache
    /// folder, mirror-sim).
    #[arg(long)]
    pub rpm_cache: Option<PathBuf>,
    /// Serve filler of the stated size and checksum instead of building real RPMs (dnf can
    /// list and download them, not install them). Without rpmbuild and createrepo_c this is
    /// what happens anyway.
    #[arg(long)]
    pub synthetic_packages: bool,
}

/// The `[http]` and `[master]` settings a checker needs to crawl this sim.
pub fn checker_settings(sim: &Sim, ca_file: &std::path::Path) -> String {
    let mut out = String::from("[master]\n");
    out.push_str(&format!("url = {:?}\n", sim.master_url()));
    out.push_str(&format!("vault = {:?}\n", sim.vault_url()));
    for (module, url) in sim.master_module_urls() {
        out.push_str(&format!("modules.{module} = {url:?}\n"));
    }
    out.push_str("\n[http]\n");
    out.push_str(&format!(
        "extra_ca_files = [{:?}]\n",
        ca_file.display().to_string()
    ));
    for r in sim.routes() {
        let addrs: Vec<String> = r
            .addrs
            .iter()
            .map(|a| format!("{:?}", a.to_string()))
            .collect();
        out.push_str(&format!(
            "[[http.connect_to]]\nhost = {:?}\nport = {}\naddrs = [{}]\n",
            r.host,
            r.port,
            addrs.join(", ")
        ));
    }
    out
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli {
        Cli::Serve(serve) => run_serve(serve).await,
        Cli::PlainClient(plain) => crate::plain::run(plain).await,
        Cli::SyntheticSnapshot(args) => crate::bench::synthetic_snapshot(args),
        Cli::FixedServer(args) => crate::bench::fixed_server(args).await,
        Cli::Load(args) => crate::bench::load(args).await,
        Cli::AttackZeroWindow(args) => {
            println!("{}", crate::attack::zero_window(&args).await?);
            Ok(())
        }
        Cli::AttackFlood(args) => {
            println!("{}", crate::attack::flood(&args).await);
            Ok(())
        }
    }
}

async fn run_serve(cli: Serve) -> anyhow::Result<()> {
    let catalog = Catalog::load(&cli.catalog)?;
    let report = shared::registry::import_dir(&cli.registry)
        .with_context(|| format!("registry {}", cli.registry.display()))?;
    let mix = match cli.mix.as_str() {
        "realistic" => Mix::Realistic,
        "all-current" => Mix::AllCurrent,
        other => match other
            .strip_prefix("all-slow-")
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            Some(ms) => Mix::AllSlow(std::time::Duration::from_millis(ms)),
            None => anyhow::bail!(
                "unknown mix {other:?}: use realistic, all-current or all-slow-MS (all-slow-300)"
            ),
        },
    };
    let (packages, which) = if cli.synthetic_packages {
        (
            crate::repo::Packages::synthetic(),
            "filler packages, not RPMs (--synthetic-packages)".to_string(),
        )
    } else {
        crate::repo::Packages::build_or_synthetic(
            &cli.rpm_cache
                .clone()
                .unwrap_or_else(crate::repo::default_cache),
        )
    };
    println!("packages: {which}");
    let options = SimOptions {
        seed: cli.seed,
        mix,
        ports: (cli.http_port, cli.https_port),
        packages,
        proxy_port: cli.proxy_port,
        ..SimOptions::default()
    };
    let sim = Sim::start(&catalog, &report.mirrors, options).await?;
    std::fs::create_dir_all(&cli.out)?;
    let ca = cli.out.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem())?;
    let settings = cli.out.join("checker-network.toml");
    std::fs::write(
        &settings,
        checker_settings(&sim, &std::fs::canonicalize(&ca)?),
    )?;
    std::fs::write(cli.out.join("proxy"), format!("http://{}\n", sim.proxy))?;
    println!(
        "serving {} mirrors: http {} https {}{}; proxy http://{}; checker settings in {}",
        report.mirrors.len(),
        sim.http_v4,
        sim.https_v4,
        sim.http_v6.map_or(String::new(), |a| format!(" and {a}")),
        sim.proxy,
        settings.display()
    );
    let every = std::time::Duration::from_secs(cli.publish_every);
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => return Ok(r?),
            _ = tokio::time::sleep(every), if !every.is_zero() => {
                println!("the master published version {}", sim.publish());
            }
        }
    }
}

/// An error as `main` prints it: each cause once, the outermost first.
pub fn describe(e: &anyhow::Error) -> String {
    shared::text::error_chain(e.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A missing file is said once (it read "No such file or directory (os error 2): No such
    /// file or directory (os error 2)": the catalog's message already holds its cause).
    #[tokio::test]
    async fn a_missing_file_is_said_once() {
        let cli = Cli::try_parse_from([
            "mirror-sim",
            "serve",
            "--registry",
            "/nonexistent-registry",
            "--catalog",
            "/nonexistent-catalog.toml",
            "--out",
            "/nonexistent-out",
        ])
        .unwrap();
        let err = describe(&run(cli).await.unwrap_err());
        assert_eq!(err.matches("No such file").count(), 1, "{err}");
        assert!(err.contains("/nonexistent-catalog.toml"), "{err}");
    }
}
