//! The server's one error type, for what stops it from starting. Requests never fail with
//! it: a client's mistake is a [`crate::respond::Refusal`], answered in the endpoint's form.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot load the snapshot: {0}")]
    Snapshot(#[from] shared::snapshot::SnapshotError),
    #[error(transparent)]
    Geo(#[from] crate::geoip::GeoError),
    #[error(transparent)]
    Cloud(#[from] crate::cloud::CloudError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A setting that cannot be used as given.
    #[error("{0}")]
    Config(String),
    #[error("--snapshot-key: {0}")]
    Key(#[from] shared::snapshot::sign::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
