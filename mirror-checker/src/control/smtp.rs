//! Mail through an SMTP relay (`[control] smtp_relay`): STARTTLS (required, never merely
//! attempted) or TLS from the first byte, verified against the webpki roots and any CA in
//! `smtp_ca`; credentials from a file of their own (user name, then password, one a line),
//! never in the config. Plain SMTP only to a relay on this machine, and never with
//! credentials.

use super::config::{ControlConfig, SmtpSecurity};
use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::Path;

/// A relay, connected to per message (a sign-in link now and then needs no pool).
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The relay as the log names it.
    pub shown: String,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Relay {
    /// The relay `config` names; an error says which setting is wrong.
    pub fn new(config: &ControlConfig) -> Result<Relay, String> {
        let host = config.smtp_relay.trim();
        let security = config.smtp_security;
        let port = match (config.smtp_port, security) {
            (0, SmtpSecurity::Tls) => 465,
            (0, SmtpSecurity::Starttls) => 587,
            (0, SmtpSecurity::None) => 25,
            (p, _) => p,
        };
        let credentials = credentials(&config.smtp_credentials)?;
        if security == SmtpSecurity::None {
            if !on_this_machine(host) {
                return Err(format!(
                    "smtp_security = \"none\" sends mail in the clear: only to a relay on this machine (localhost), not {host}"
                ));
            }
            if credentials.is_some() {
                return Err("smtp_credentials would be sent in the clear with smtp_security = \"none\": use starttls or tls".into());
            }
        }
        let tls = || tls_parameters(host, &config.smtp_ca);
        let tls = match security {
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(30)));
        if let Some(c) = credentials {
            builder = builder.credentials(c);
        }
        let from = config
            .mail_from
            .parse()
            .map_err(|e| format!("mail_from = {:?}: {e}", config.mail_from))?;
        Ok(Relay {
            transport: builder.build(),
            from,
            shown: format!("smtp://{host}:{port} ({})", security.as_str()),
        })
    }

    /// Sends `body` to `to` under `subject`, with a one-click `unsubscribe` URL when given;
    /// the error says what the relay answered.
    pub async fn send(
        &self,
        (to, subject, body): (&str, &str, &str),
        unsubscribe: Option<&str>,
    ) -> Result<(), String> {
        use lettre::message::header::{HeaderName, HeaderValue};
        let to: Mailbox = to.parse().map_err(|e| format!("to {to}: {e}"))?;
        let body = as_written(body);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        if let Some(url) = unsubscribe {
            let name = HeaderName::new_from_ascii_str("List-Unsubscribe");
            builder = builder.raw_header(HeaderValue::new(name, format!("<{url}>")));
            let post = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");
            builder =
                builder.raw_header(HeaderValue::new(post, "List-Unsubscribe=One-Click".into()));
        }
        let message = builder
            .body(body)
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("{}: {e}", self.shown))
    }
}

/// The text as written, 8bit with CRLF line ends, when every line fits SMTP's 998 octets
/// (lettre would otherwise fold lines past 76 into quoted-printable, breaking the links a
/// reader copies); quoted-printable only for text that cannot go as it is.
fn as_written(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = crlf
        .split("\r\n")
        .all(|line| line.len() <= 998 && !line.contains(['\0', '\r']));
    if fits {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text.to_string())
    }
}

fn on_this_machine(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The credentials file: the user name on its first line, the password on its second.
fn credentials(path: &Path) -> Result<Option<Credentials>, String> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("smtp_credentials: cannot read {shown}: {e}"))?;
    let mut lines = text.lines();
    match (lines.next().map(str::trim), lines.next()) {
        (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
            Ok(Some(Credentials::new(user.into(), password.into())))
        }
        _ => Err(format!(
            "smtp_credentials: {shown} must hold the user name on its first line and the password on its second"
        )),
    }
}

/// TLS for `host`: the webpki roots, and the CAs in `ca` when it is set.
fn tls_parameters(host: &str, ca: &Path) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    if !ca.as_os_str().is_empty() {
        let shown = ca.display();
        let pem = std::fs::read(ca).map_err(|e| format!("smtp_ca: cannot read {shown}: {e}"))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("smtp_ca: {shown} is no PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("TLS for {host}: {e}"))
}
