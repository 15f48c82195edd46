//! Mail through a real SMTP server (scripts/smtp-sink): STARTTLS with a login, TLS from the
//! first byte, and the refusals: a wrong password, a certificate no CA vouches for, plain
//! SMTP to another machine or with credentials.

use super::super::config::SmtpSecurity;
use super::super::mail::{self, Mailer, Message};
use super::super::ControlConfig;
use shared::testing::smtp::{self, Mode, Options};

struct Certs {
    _dir: tempfile::TempDir,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    ca: std::path::PathBuf,
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let store = mirror_sim::tls::CertStore::new(Default::default()).unwrap();
    let (cert, key) = store.issue_pem("127.0.0.1").unwrap();
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Certs {
        cert: path("cert.pem", &cert),
        key: path("key.pem", &key),
        ca: path("ca.pem", &store.ca_pem()),
        _dir: dir,
    }
}

fn message() -> Message {
    let link = format!("http://127.0.0.1:8081/signin/{}", "x".repeat(43));
    Message {
        to: "op@example.org".into(),
        subject: "Your sign-in link".into(),
        // A line longer than 76 characters, as sign-in mail has: sent as written (8bit),
        // never folded or quoted-printable, so `mail show` and a reader's eyes see the link.
        body: format!(
            "Someone (we hope you) registered the mirror served.example.org with op@example.org as its contact.\n\nOpen this link within 15 minutes:\n\n{link}\n"
        ),
        unsubscribe: Some("http://127.0.0.1:8081/unsubscribe/tok".into()),
    }
}

fn config(security: SmtpSecurity, port: u16) -> ControlConfig {
    ControlConfig {
        smtp_relay: "127.0.0.1".into(),
        smtp_port: port,
        smtp_security: security,
        mail_from: "mirrors@example.org".into(),
        ..ControlConfig::default()
    }
}

#[tokio::test]
async fn mail_goes_through_a_relay_over_starttls_with_a_login() {
    let (certs, dir) = (certs(), tempfile::tempdir().unwrap());
    let options = Options {
        mode: Mode::Starttls,
        cert: Some((&certs.cert, &certs.key)),
        login: Some(("mirrors", "s3cret pass")),
    };
    let Some(sink) = smtp::start(&dir.path().join("in"), &options) else {
        return;
    };
    let login = dir.path().join("login");
    std::fs::write(&login, "mirrors\ns3cret pass\n").unwrap();
    let mut c = config(SmtpSecurity::Starttls, sink.port);
    c.smtp_credentials = login.clone();
    c.smtp_ca = certs.ca.clone();
    let mailer = Mailer::of(&c).unwrap();
    mailer.send(&message()).await.unwrap();
    let got = sink.wait_for(1).pop().unwrap();
    assert!(got.contains("X-Authenticated: True"), "{got}");
    assert!(got.contains("X-Envelope-To: op@example.org"), "{got}");
    assert!(got.contains("Subject: Your sign-in link"), "{got}");
    assert!(got.contains("with op@example.org as its contact."), "{got}");
    assert!(
        got.contains("List-Unsubscribe: <http://127.0.0.1:8081/unsubscribe/tok>"),
        "{got}"
    );
    assert!(
        got.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{got}"
    );
    let link = mail::link_in(&got).unwrap();
    assert_eq!(link, message().body.split_whitespace().last().unwrap());

    // A wrong password is refused by the relay, and the error says so.
    std::fs::write(&login, "mirrors\nwrong\n").unwrap();
    let wrong = Mailer::of(&c).unwrap().send(&message()).await.unwrap_err();
    assert!(
        wrong.contains("535") || wrong.contains("authentication"),
        "{wrong}"
    );
    // Without the CA the relay's certificate is not trusted: nothing is sent in the clear.
    c.smtp_ca = Default::default();
    std::fs::write(&login, "mirrors\ns3cret pass\n").unwrap();
    let untrusted = Mailer::of(&c).unwrap().send(&message()).await.unwrap_err();
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn mail_goes_through_a_relay_over_tls_from_the_first_byte() {
    let (certs, dir) = (certs(), tempfile::tempdir().unwrap());
    let options = Options {
        mode: Mode::Tls,
        cert: Some((&certs.cert, &certs.key)),
        login: None,
    };
    let Some(sink) = smtp::start(&dir.path().join("in"), &options) else {
        return;
    };
    let mut c = config(SmtpSecurity::Tls, sink.port);
    c.smtp_ca = certs.ca.clone();
    Mailer::of(&c).unwrap().send(&message()).await.unwrap();
    assert!(sink.wait_for(1)[0].contains("To: op@example.org"));
}

#[tokio::test]
async fn plain_smtp_only_to_this_machine_and_never_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        mode: Mode::Plain,
        cert: None,
        login: None,
    };
    let Some(sink) = smtp::start(&dir.path().join("in"), &options) else {
        return;
    };
    // A relay that offers no STARTTLS is refused when STARTTLS is required.
    let required = Mailer::of(&config(SmtpSecurity::Starttls, sink.port)).unwrap();
    assert!(required.send(&message()).await.is_err());
    let tls = Mailer::of(&config(SmtpSecurity::Tls, sink.port)).unwrap();
    assert!(tls.send(&message()).await.is_err());
    assert!(sink.messages().is_empty());
    Mailer::of(&config(SmtpSecurity::None, sink.port))
        .unwrap()
        .send(&message())
        .await
        .unwrap();
    assert_eq!(sink.wait_for(1).len(), 1);
    let mut far = config(SmtpSecurity::None, 25);
    far.smtp_relay = "smtp.example.org".into();
    let e = Mailer::of(&far).unwrap_err();
    assert!(e.contains("only to a relay on this machine"), "{e}");
    let login = dir.path().join("login");
    std::fs::write(&login, "u\np\n").unwrap();
    let mut with = config(SmtpSecurity::None, sink.port);
    with.smtp_credentials = login.clone();
    assert!(Mailer::of(&with).unwrap_err().contains("in the clear"));
    std::fs::write(&login, "only a user\n").unwrap();
    let mut bad = config(SmtpSecurity::Starttls, sink.port);
    bad.smtp_credentials = login;
    assert!(Mailer::of(&bad).unwrap_err().contains("first line"));
}
