//! `[control]`: the operators' control plane (`mirror-checker serve`).

use serde::Deserialize;
use shared::duration::Human;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// Where `mirror-checker serve` listens when `--listen` is not given.
    pub listen: std::net::SocketAddr,
    /// The address people use for the control plane (behind a reverse proxy, its public
    /// address), for the links in mail and, when it is https, the `Secure` cookie flag;
    /// empty: `http://` and the listen address.
    pub public_url: String,
    /// Admins' addresses (more are added with `mirror-checker admin add`).
    pub admins: Vec<String>,
    /// With no SMTP relay, mail is written here, one file per message (`mirror-checker mail
    /// list` shows them).
    pub mail_folder: PathBuf,
    /// The address mail is sent from.
    pub mail_from: String,
    /// A session ends after this long without use...
    pub session_idle: Human,
    /// ...and this long after sign-in, however used.
    pub session_max: Human,
    /// Sign-in requests one address may make per `signin_window`...
    pub signin_per_address: i64,
    /// ...and one client network (a /24 or a /48).
    pub signin_per_network: i64,
    pub signin_window: Human,
    /// A registration's ownership proof is looked for at most this often on request.
    pub proof_every: Human,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: ([127, 0, 0, 1], 8081).into(),
            public_url: String::new(),
            admins: Vec::new(),
            mail_folder: PathBuf::from("var/mail"),
            mail_from: "mirrors@localhost".into(),
            session_idle: Human::secs(8 * 3600),
            session_max: Human::secs(7 * 86400),
            signin_per_address: 5,
            signin_per_network: 30,
            signin_window: Human::secs(3600),
            proof_every: Human::secs(10),
        }
    }
}

impl ControlConfig {
    /// The public address, without a trailing slash.
    pub fn public_url(&self, listen: std::net::SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("http://{listen}")
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }
}
