//! Command-line interface. Every flag can also come from the environment, under the one
//! prefix `MIRRORLIST_`; durations are written as people write them (`5s`, `3h`).

use clap::Parser;
use shared::duration::Human;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "mirrorlist-server",
    version,
    about = "Answers dnf metalink and mirrorlist requests from checker snapshots"
)]
pub struct Cli {
    /// The snapshot file the checker publishes; reloaded when it changes. With
    /// --snapshot-url, where the last good snapshot fetched is kept.
    #[arg(long, env = "MIRRORLIST_SNAPSHOT")]
    pub snapshot: PathBuf,
    /// Fetch snapshots over HTTP from these sources (comma separated; a checker's
    /// `[daemon] publish_listen`, or a cache in front of it), polled every --poll with
    /// conditional requests; the newest serial wins.
    #[arg(long, env = "MIRRORLIST_SNAPSHOT_URL", value_delimiter = ',', value_parser = parse_url)]
    pub snapshot_url: Vec<url::Url>,
    /// More certificate authorities (PEM) for https snapshot sources, besides the Web PKI's.
    #[arg(long, env = "MIRRORLIST_SNAPSHOT_CA", requires = "snapshot_url")]
    pub snapshot_ca: Option<PathBuf>,
    /// Accept only snapshots signed by this Ed25519 public key (PEM), from files and sources
    /// alike; unsigned or wrongly signed ones are refused.
    #[arg(long, env = "MIRRORLIST_SNAPSHOT_KEY")]
    pub snapshot_key: Option<PathBuf>,
    /// Load and validate the snapshot, describe it, and exit.
    #[arg(long)]
    pub check: bool,
    /// Address to listen on.
    #[arg(long, env = "MIRRORLIST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also listen here with TLS (HTTP/2 and HTTP/1.1 by ALPN); needs --tls-cert and
    /// --tls-key. The plain listener speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
    #[arg(long, env = "MIRRORLIST_TLS_LISTEN", requires_all = ["tls_cert", "tls_key"])]
    pub tls_listen: Option<SocketAddr>,
    /// The certificate chain (PEM) for --tls-listen; read again when it changes.
    #[arg(long, env = "MIRRORLIST_TLS_CERT", requires = "tls_listen")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) for --tls-listen; read again when it changes.
    #[arg(long, env = "MIRRORLIST_TLS_KEY", requires = "tls_listen")]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics on this address only (not on --listen), so it need not be public.
    #[arg(long, env = "MIRRORLIST_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// GeoIP database (MaxMind City/Country, DB-IP, ip-location-db); reloaded when it changes.
    #[arg(long, env = "MIRRORLIST_GEOIP")]
    pub geoip: Option<PathBuf>,
    /// ASN database (GeoLite2-ASN shape); reloaded when it changes.
    #[arg(long, env = "MIRRORLIST_ASN_DB")]
    pub asn_db: Option<PathBuf>,
    /// Cloud providers' published address ranges, as PROVIDER=FILE (comma separated),
    /// PROVIDER being the registry's cloud_type: aws=ip-ranges.json, gcp=cloud.json, azure=
    /// (Service Tags JSON), oci=public_ip_ranges.json. Clients inside a range get that
    /// provider's mirrors for their region first. Reloaded when a file changes.
    #[arg(long, env = "MIRRORLIST_CLOUD_RANGES", value_delimiter = ',', value_parser = crate::cloud::parse_arg)]
    pub cloud_ranges: Vec<(String, PathBuf)>,
    /// Proxies whose word is taken for the client's address, as NET[=HEADER] (comma
    /// separated): a CIDR or an address, and the one header that proxy sets:
    /// x-forwarded-for (the default), forwarded, cf-connecting-ip or x-real-ip. Nobody's by
    /// default.
    #[arg(long, env = "MIRRORLIST_TRUSTED_PROXY", value_delimiter = ',', value_parser = shared::proxy::parse_trusted)]
    pub trusted_proxy: Vec<shared::proxy::TrustedProxy>,
    /// At most this many client connections; at the cap the oldest idle one is closed to
    /// make room (the soft file-descriptor limit is raised to the hard one at start).
    #[arg(long, env = "MIRRORLIST_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// A connection that has not sent a whole request head within this long is closed:
    /// slow or unfinished headers, and keep-alive connections idle between requests.
    #[arg(long, env = "MIRRORLIST_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: Human,
    /// At most this many mirrors per answer.
    #[arg(long, env = "MIRRORLIST_CAP", default_value_t = 10)]
    pub cap: usize,
    /// Fill from the whole world until this many mirrors.
    #[arg(long, env = "MIRRORLIST_MINIMUM", default_value_t = 5)]
    pub minimum: usize,
    /// Explanations (`/explain`, `/api/v1/explain`) one client network (a /24, or a /48 for
    /// IPv6) may ask for a minute; each costs many metalinks. Past it: 429.
    #[arg(long, env = "MIRRORLIST_EXPLAIN_PER_MINUTE", default_value_t = 30)]
    pub explain_per_minute: u32,
    /// Turn `/explain` and `/api/v1/explain` off (404).
    #[arg(long, env = "MIRRORLIST_NO_EXPLAIN")]
    pub no_explain: bool,
    /// Honour `ip=` to answer as if for another client (debugging only).
    #[arg(long, env = "MIRRORLIST_ALLOW_IP_PARAM")]
    pub allow_ip_param: bool,
    /// Fixed shuffle seed: replicas with the same seed answer identically.
    #[arg(long, env = "MIRRORLIST_SEED")]
    pub seed: Option<u64>,
    /// How often to look for a new snapshot or GeoIP database (`5s`).
    #[arg(long, env = "MIRRORLIST_POLL", default_value = "5s")]
    pub poll: Human,
    /// /readyz fails when the snapshot is older than this (`3h`).
    #[arg(long, env = "MIRRORLIST_MAX_SNAPSHOT_AGE", default_value = "3h")]
    pub max_snapshot_age: Human,
    /// Answer nothing (503 with the reason) from a snapshot older than this, heartbeats
    /// counted, until a fresher one arrives: an old signed snapshot replayed to a new
    /// replica is not served (`0`: no bound).
    #[arg(long, env = "MIRRORLIST_REFUSE_OLDER_THAN", default_value = "7d")]
    pub refuse_older_than: Human,
    /// Do not look up the addresses of mirrors without coordinates to place them by GeoIP
    /// (done in the background, once per host, when a GeoIP database is loaded).
    #[arg(long, env = "MIRRORLIST_NO_LOCATE_MIRRORS")]
    pub no_locate_mirrors: bool,
    /// Log every answer (endpoint, status, directory, client country and ASN, tier, mirror
    /// count, time) under the `access` target; client addresses are never logged.
    #[arg(long, env = "MIRRORLIST_ACCESS_LOG")]
    pub access_log: bool,
    /// Log filter, e.g. `info` (default: RUST_LOG, else info).
    #[arg(long, env = "MIRRORLIST_LOG")]
    pub log: Option<String>,
    /// Log one JSON object per line.
    #[arg(long, env = "MIRRORLIST_LOG_JSON")]
    pub log_json: bool,
}

/// Refuses what cannot be a snapshot source.
pub fn parse_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err(format!("{s}: no host")),
        other => Err(format!(
            "{s}: {other}:// is not supported for snapshot sources; use http:// or https://"
        )),
    }
}
