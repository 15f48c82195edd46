//! Command-line interface. Flags that may also come from the environment use the one prefix
//! `MIRROR_CHECKER_`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mirror-checker",
    version,
    about = "Keeps the mirror network's state: registry, catalog, checks, snapshots"
)]
pub struct Cli {
    /// TOML configuration file (see deploy/examples/checker.toml).
    #[arg(long, short, env = "MIRROR_CHECKER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE (created on first use) or postgres://USER@HOST/DB.
    /// Overrides the config file.
    #[arg(long, env = "MIRROR_CHECKER_DATABASE", global = true)]
    pub database: Option<String>,
    /// Log filter, e.g. `info` or `mirror_checker=debug` (default: RUST_LOG, else info).
    #[arg(long, env = "MIRROR_CHECKER_LOG", global = true)]
    pub log: Option<String>,
    /// Log one JSON object per line.
    #[arg(long, env = "MIRROR_CHECKER_LOG_JSON", global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a registry folder of one-YAML-file-per-mirror into the store.
    ImportRegistry {
        /// The folder holding <mirror>.yml files.
        dir: PathBuf,
        /// Also remove stored mirrors whose file is gone.
        #[arg(long)]
        sync: bool,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Judge a registry folder without a store (for a registry's own CI): exits non-zero when
    /// a file is rejected.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Write every stored mirror as a registry file into a folder.
    ExportRegistry {
        /// The folder to write <mirror>.yml files into (created if needed).
        dir: PathBuf,
    },
    /// Manage the catalog of releases, repos and directories.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Read the master's repomd.xml of every directory and record new versions.
    Scan,
    /// Scan the master, check every enabled mirror, apply the results and publish a snapshot;
    /// without --once, keep doing it on a schedule (the daemon).
    Crawl {
        /// One crawl of every mirror, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Show a mirror's health and the reasons: what an operator asks when a mirror is not served.
    Status {
        /// The mirror's name.
        mirror: String,
        /// Print the mirror's status as JSON: the same document as the server's
        /// `/api/v1/mirrors/NAME`, built from the store's state now.
        #[arg(long)]
        json: bool,
    },
    /// List the mirrors with their state, from the store now: the server's `/mirrors` page.
    Mirrors {
        /// Only mirrors in this state.
        #[arg(long, value_enum)]
        state: Option<StateFilter>,
        /// Only mirrors placed in this country (ISO code, `DE`).
        #[arg(long)]
        country: Option<String>,
        /// Print the list as JSON: the `mirrors` of the server's `/api/v1/status`.
        #[arg(long)]
        json: bool,
    },
    /// How the master's versions reached the mirrors: per directory its current version's
    /// time to 50%, 90% and 99% of the mirrors watched since before its publication, and
    /// those still behind; for one directory, its last versions with every mirror behind.
    Propagation {
        /// A catalog directory (`9.8/BaseOS/x86_64/os`).
        directory: Option<String>,
        /// Versions shown for one directory.
        #[arg(long, default_value_t = 5)]
        versions: usize,
        /// Print JSON: the `propagation` of the server's `/api/v1/status`, or for one
        /// directory its versions' reports.
        #[arg(long)]
        json: bool,
    },
    /// Make mirrors due now: the checker daemons check them at their next tick (after an
    /// operator fixed a mirror, say).
    Recheck {
        /// Mirror names.
        mirrors: Vec<String>,
        /// Every registered mirror.
        #[arg(long, conflicts_with = "mirrors")]
        all: bool,
    },
    /// Emergency expiry after a security push (MirrorManager's emergency-expire-repo): the
    /// versions superseded so far stop being alternates, so only mirrors with the newest
    /// version are served until the mirrors catch up. Takes effect at the next snapshot.
    ExpireAlternates {
        /// Catalog directories, or prefixes of them (`9.8/BaseOS` is every arch of it).
        dirs: Vec<String>,
        /// Every directory.
        #[arg(long, conflicts_with = "dirs")]
        all: bool,
    },
    /// Build a snapshot from the store and publish it atomically.
    Snapshot {
        /// Where to write it (default: snapshot_path from the config).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve the operators' control plane: sign-in by mailed link, their mirrors, the JSON
    /// API under /api/v1/ ([control] in the config).
    Serve {
        /// Where to listen (default: [control] listen, 127.0.0.1:8081).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Read the mail the control plane wrote to its mail folder (with no SMTP relay).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Manage the control plane's admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Plan, change and end maintenance windows (as an admin; operators use the control
    /// plane's page or API).
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Send one notice to every mirror's contacts (or those of one country), through the
    /// same outbox and mail as the checker's messages (a new release coming, the master's
    /// new address); recorded in the audit log.
    Notice {
        /// Its subject.
        #[arg(long)]
        subject: String,
        /// Its text.
        #[arg(long)]
        body: String,
        /// Only the contacts of mirrors the registry places in this country (ISO code).
        #[arg(long)]
        country: Option<String>,
    },
    /// Make a snapshot signing key: the private key (PEM, readable by its owner only) for
    /// `snapshot_signing_key`, and PATH.pub, the public key servers take as --snapshot-key.
    Keygen {
        /// Where to write the private key (refused when it exists).
        path: PathBuf,
    },
}

/// A mirror's state, as `mirrors --state` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StateFilter {
    /// Served for every directory it should carry.
    Served,
    /// Served for some directories only.
    Partly,
    /// Served for none.
    NotServed,
    /// Partly or not served: what needs looking at.
    Unserved,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages, oldest first, numbered.
    List,
    /// Print one message: its number in `mail list` (negative counts from the newest: -1).
    Show {
        #[arg(allow_hyphen_values = true, value_name = "N")]
        number: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make ADDRESS an admin (recorded in the audit log).
    Add { address: String },
    /// List the admins: the config's and the store's.
    List,
    /// List the registrations not yet decided, those waiting for an admin first.
    Queue,
    /// Look for a registration's ownership token under its base URLs now.
    Prove { name: String },
    /// Approve a proven registration: the mirror is stored, checked, then served.
    Approve { name: String },
    /// Refuse a registration, saying why (the operator reads it).
    Refuse {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Hold any mirror (the registry's too) out of the answers, saying why; its file and its
    /// operator cannot serve it again until `admin release` (also `admin disable`).
    #[command(alias = "disable")]
    Hold {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift an admin's hold (also `admin enable`).
    #[command(alias = "enable")]
    Release { name: String },
    /// Print the audit log, newest first: of one mirror or registration, or all.
    Log {
        name: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Declare a window on mirror NAME: it leaves the answers at its start, its failed checks
    /// do not count, and after it a check must find it current before it is served again.
    Add {
        name: String,
        /// The whole mirror (`mirror`, the default), or one of http, https, ipv4, ipv6.
        #[arg(long, default_value = "mirror")]
        scope: String,
        /// Its start: 2026-12-03T18:00Z (UTC), 2026-12-03T19:00+01:00, or now.
        #[arg(long, default_value = "now")]
        from: String,
        /// Its end, as --from.
        #[arg(long, required_unless_present = "for_", conflicts_with = "for_")]
        until: Option<String>,
        /// Its length instead of an end: 6h, 2d.
        #[arg(long = "for", id = "for_")]
        for_: Option<String>,
        /// What the status page says of it.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the windows holding or to come: of one mirror, or all.
    List { name: Option<String> },
    /// Change window ID's start, end or note (what is not given stays).
    Change {
        /// The window's number in `maintenance list`.
        id: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long, conflicts_with = "for_")]
        until: Option<String>,
        #[arg(long = "for", id = "for_")]
        for_: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// End window ID now (one still to come is cancelled).
    End {
        /// The window's number in `maintenance list`.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Judge every registry file of a folder and print the report; no store is opened.
    Check {
        /// The folder holding <mirror>.yml files.
        dir: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Load the project's TOML catalog into the store.
    Load {
        /// The catalog file (see deploy/examples/catalog.toml).
        file: PathBuf,
    },
    /// Import AlmaLinux's service configuration (config.yml) into the store.
    ImportAlmalinux {
        /// AlmaLinux's config.yml.
        file: PathBuf,
        /// Also write the catalog in this project's TOML form to this file.
        #[arg(long)]
        write_toml: Option<PathBuf>,
    },
    /// Print the stored catalog's releases and directory counts.
    Show {
        /// List every directory.
        #[arg(long)]
        directories: bool,
    },
}
