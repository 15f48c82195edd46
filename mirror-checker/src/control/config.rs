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
    /// The SMTP relay mail goes through (a host name); empty: the mail folder.
    pub smtp_relay: String,
    /// Its port; 0: 465 for `tls`, 587 for `starttls`, 25 for `none`.
    pub smtp_port: u16,
    /// `starttls` (required, never merely attempted), `tls` (from the first byte), or `none`
    /// (plain, only to a relay on this machine and without credentials).
    pub smtp_security: SmtpSecurity,
    /// A file holding the relay's user name on its first line and password on its second;
    /// empty: no authentication.
    pub smtp_credentials: PathBuf,
    /// A PEM file of CA certificates trusted for the relay besides the webpki roots.
    pub smtp_ca: PathBuf,
    /// A session ends after this long without use...
    pub session_idle: Human,
    /// ...and this long after sign-in, however used.
    pub session_max: Human,
    /// Sign-in requests one address may make per `signin_window`...
    pub signin_per_address: i64,
    /// ...and one client network (a /24 or a /48).
    pub signin_per_network: i64,
    /// Reverse proxies whose word is taken for the client's address, `NET[=HEADER]` (a
    /// CIDR or an address; `x-forwarded-for` by default, or `forwarded`, `cf-connecting-ip`,
    /// `x-real-ip`), as mirrorlist-server's `--trusted-proxy`: behind one, every client
    /// would otherwise be counted in the proxy's network.
    pub trusted_proxies: Vec<String>,
    pub signin_window: Human,
    /// A registration's ownership proof is looked for at most this often on request.
    pub proof_every: Human,
    /// A served mirror's token is looked for again at each sweep (the daemon's `interval`);
    /// missing this long, the mirror is flagged to its operator and the admins.
    pub ownership_grace: Human,
    /// The longest maintenance window an operator may declare (merged windows included).
    pub maintenance_max: Human,
    /// A message to an operator the relay did not take is tried again after this, then
    /// after twice as long each time (at most an hour), for a day.
    pub notify_retry: Human,
    /// A checker delivering a message holds it this long; one killed meanwhile leaves it
    /// to another checker when it lapses.
    pub notify_lease: Human,
    /// While a mirror stays down, its contacts are reminded this often; 0 for never.
    pub remind_every: Human,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: ([127, 0, 0, 1], 8081).into(),
            public_url: String::new(),
            admins: Vec::new(),
            mail_folder: PathBuf::from("var/mail"),
            mail_from: "mirrors@localhost".into(),
            smtp_relay: String::new(),
            smtp_port: 0,
            smtp_security: SmtpSecurity::Starttls,
            smtp_credentials: PathBuf::new(),
            smtp_ca: PathBuf::new(),
            session_idle: Human::secs(8 * 3600),
            session_max: Human::secs(7 * 86400),
            signin_per_address: 5,
            signin_per_network: 30,
            trusted_proxies: Vec::new(),
            signin_window: Human::secs(3600),
            proof_every: Human::secs(10),
            ownership_grace: Human::secs(3 * 86400),
            maintenance_max: Human::secs(14 * 86400),
            notify_retry: Human::secs(60),
            notify_lease: Human::secs(120),
            remind_every: Human::secs(86_400),
        }
    }
}

/// How mail reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
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
