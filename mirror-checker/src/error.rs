//! The checker's one error type. Every message says what failed and, where there is one,
//! what to do about it; each cause is stated once (no "x: x" chains).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file, a flag or an environment variable holds something unusable.
    #[error("{0}")]
    Config(String),
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    #[error("database {url}: {source}")]
    Open {
        /// Without its password.
        url: String,
        source: store::StoreError,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(
        "no store at {}: check --database (or `database` in the config), or create it with \
         `catalog load` and `import-registry`", .0.display()
    )]
    NoStore(PathBuf),
    #[error("no catalog is stored yet: run `mirror-checker catalog load FILE` first")]
    NoCatalog,
    #[error("no master configured: set [master] url to a folder or an http(s) URL")]
    NoMaster,
    #[error("no mirror is registered as {0}")]
    UnknownMirror(String),
    #[error("{0} registry file{s} {was} rejected (see the report above){stored}", s = if *.0 == 1 { "" } else { "s" }, was = if *.0 == 1 { "was" } else { "were" }, stored = if *.1 { "; the accepted ones were stored" } else { "" })]
    Rejected(usize, bool),
    #[error("{doing} {}: {source}", path.display())]
    Io {
        /// What could not be done: "cannot read the registry folder".
        doing: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] shared::catalog::CatalogError),
    #[error(transparent)]
    Snapshot(#[from] shared::snapshot::SnapshotError),
    /// The crawl was cancelled (SIGINT, SIGTERM): nothing of it was written.
    #[error("the crawl was interrupted; nothing was written")]
    Interrupted,
    /// A check panicked: a bug. The crawl is dropped whole rather than judged on part of
    /// its results.
    #[error(
        "checking {mirror} failed unexpectedly ({message}); nothing of this crawl was written"
    )]
    Panicked { mirror: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure while `doing` something with `path`.
    pub fn io(
        doing: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            doing,
            path,
            source,
        }
    }

    /// A task's panic as an error naming the mirror it was checking.
    pub fn panicked(mirror: &str, payload: Box<dyn std::any::Any + Send>) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Error::Panicked {
            mirror: mirror.to_string(),
            message,
        }
    }
}
