//! Mail the control plane sends (sign-in links): through the SMTP relay when one is
//! configured (`smtp`), otherwise to the mail folder, each message one RFC 5322 file
//! written whole and then renamed, so a reader never sees half a message;
//! `mirror-checker mail list|show` reads them.

use std::path::{Path, PathBuf};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// A one-click unsubscribe URL (RFC 8058), sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post`.
    pub unsubscribe: Option<String>,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Mailer {
    Folder(Folder),
    Relay(std::sync::Arc<super::smtp::Relay>),
}

impl Mailer {
    /// The relay `config` names, or its mail folder when it names none.
    pub fn of(config: &super::ControlConfig) -> Result<Mailer, String> {
        if config.smtp_relay.trim().is_empty() {
            let (folder, from) = (config.mail_folder.clone(), config.mail_from.clone());
            return Ok(Mailer::Folder(Folder { folder, from }));
        }
        super::smtp::Relay::new(config).map(|r| Mailer::Relay(r.into()))
    }

    /// Where mail goes, for the log.
    pub fn shown(&self) -> String {
        match self {
            Mailer::Folder(f) => format!("the folder {}", f.folder.display()),
            Mailer::Relay(r) => r.shown.clone(),
        }
    }

    /// Sends `m`; the error says why it did not go.
    pub async fn send(&self, m: &Message) -> Result<(), String> {
        match self {
            Mailer::Folder(f) => f
                .write(m)
                .map(drop)
                .map_err(|e| format!("cannot write to {}: {e}", f.folder.display())),
            Mailer::Relay(r) => {
                let text = (m.to.as_str(), m.subject.as_str(), m.body.as_str());
                r.send(text, m.unsubscribe.as_deref()).await
            }
        }
    }
}

/// The mail folder.
#[derive(Debug, Clone)]
pub struct Folder {
    folder: PathBuf,
    from: String,
}

impl Folder {
    pub fn new(folder: PathBuf, from: String) -> Folder {
        Folder { folder, from }
    }

    /// Writes `m` to the folder: `<unix time in ns>-<random>.eml`, so names sort in the
    /// order messages were written.
    pub fn write(&self, m: &Message) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.folder)?;
        let now = shared::time::now();
        let id = super::secret::new_token();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("{nanos:020}-{}.eml", &id[..12]);
        let unsubscribe = m.unsubscribe.as_ref().map_or(String::new(), |u| {
            format!(
                "List-Unsubscribe: <{u}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            )
        });
        let text = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@{}>\r\n\
             {unsubscribe}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n{}",
            self.from,
            m.to,
            m.subject,
            shared::duration::http_date(now),
            &id[..20],
            domain_of(&self.from),
            m.body.replace('\n', "\r\n"),
        );
        let tmp = self.folder.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        let path = self.folder.join(name);
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("localhost", |(_, d)| d)
}

/// The messages in `folder`, oldest first: file and its To and Subject.
pub fn list(folder: &Path) -> std::io::Result<Vec<(PathBuf, String, String)>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let header = |name: &str| {
                text.lines()
                    .take_while(|l| !l.is_empty())
                    .find_map(|l| l.strip_prefix(name).map(str::trim))
                    .unwrap_or("")
                    .to_string()
            };
            Ok((path.clone(), header("To:"), header("Subject:")))
        })
        .collect()
}

/// The sign-in link in a message's text, when it holds one.
pub fn link_in(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find(|w| w.contains("/signin/") && w.starts_with("http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_whole_and_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("mail");
        assert_eq!(list(&folder).unwrap(), Vec::new());
        let mailer = Folder::new(folder.clone(), "mirrors@example.org".into());
        let m = Message {
            to: "op@example.org".into(),
            subject: "Sign in".into(),
            body: "Follow http://127.0.0.1:8081/signin/abc within 15 minutes.\n".into(),
            unsubscribe: None,
        };
        let path = mailer.write(&m).unwrap();
        let listed = list(&folder).unwrap();
        assert_eq!(listed, [(path.clone(), m.to.clone(), m.subject.clone())]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\r\nMessage-ID: <"), "{text}");
        assert_eq!(link_in(&text), Some("http://127.0.0.1:8081/signin/abc"));
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
    }
}
