//! Ownership looked at again at each sweep: a served control-plane mirror's token must stay
//! at `<base>/.well-known/mirror-verification`. Missing for `ownership_grace`, the mirror is
//! flagged (once) to its operator and the admins (by mail, through the outbox) and in the
//! audit log: the domain
//! may have changed hands. It is a flag, not a verdict: the mirror is served on its checks.

use super::proof;
use crate::http::HttpClient;
use std::sync::Arc;
use store::{AuditEntry, OutboxMessage, Ownership, Registration, Store};

/// How many mirrors' tokens are fetched at once.
const AT_ONCE: usize = 8;

/// What a sweep's look found, per outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Looked {
    pub held: usize,
    pub missing: usize,
    pub flagged: Vec<String>,
    pub restored: Vec<String>,
}

/// What a look needs.
pub struct Recheck {
    pub store: Store,
    pub client: HttpClient,
    /// Who hears of a flag besides the operator.
    pub admins: Vec<String>,
    pub grace_secs: i64,
    pub public_url: String,
}

impl Recheck {
    /// A look with the checker's settings: the crawl's client, the control plane's mail.
    pub async fn of(config: &crate::config::Config, store: &Store) -> crate::Result<Recheck> {
        let c = &config.control;
        let mut admins = c.admins.clone();
        admins.extend(store.stored_admins().await?);
        Ok(Recheck {
            store: store.clone(),
            client: HttpClient::new(config.http.clone())?,
            admins,
            grace_secs: c.ownership_grace.as_secs() as i64,
            public_url: c.public_url(c.listen),
        })
    }

    /// Looks for every served control-plane mirror's token once.
    pub async fn run(self: Arc<Self>) -> store::Result<Looked> {
        let served = self.store.served_registrations().await?;
        let mut tasks = tokio::task::JoinSet::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        for r in served {
            let (me, gate) = (self.clone(), gate.clone());
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await;
                me.one(&r).await.map(|o| (r.name, o))
            });
        }
        let mut looked = Looked::default();
        while let Some(done) = tasks.join_next().await {
            let Ok(result) = done else { continue };
            match result? {
                (_, Ownership::Held) => looked.held += 1,
                (_, Ownership::Missing | Ownership::StillFlagged) => looked.missing += 1,
                (name, Ownership::Flagged) => looked.flagged.push(name),
                (name, Ownership::Restored) => looked.restored.push(name),
            }
        }
        looked.flagged.sort();
        looked.restored.sort();
        Ok(looked)
    }

    async fn one(&self, r: &Registration) -> store::Result<Ownership> {
        let mirrors = self.store.load_mirrors().await?;
        let Some(mirror) = mirrors.into_iter().find(|m| m.name == r.name) else {
            return Ok(Ownership::Missing);
        };
        let found = proof::prove(&self.client, &mirror, &r.token).await;
        let proven = proof::proven(&found);
        let json = serde_json::to_string(&found).expect("serializable");
        let now = shared::time::now();
        let outcome = self
            .store
            .record_ownership(&r.name, &json, proven, now, self.grace_secs)
            .await?;
        let reasons: Vec<String> = found
            .iter()
            .map(|f| format!("{}: {}", f.protocol, f.reason))
            .collect();
        let (action, words) = match outcome {
            Ownership::Flagged => ("ownership flagged", "is no longer found"),
            Ownership::Restored => ("ownership restored", "is found again"),
            _ => return Ok(outcome),
        };
        self.store
            .audit(&AuditEntry {
                at: now,
                actor: "checker".into(),
                via: "sweep".into(),
                action: action.into(),
                subject: r.name.clone(),
                before: None,
                after: Some(reasons.join("\n")),
            })
            .await?;
        if outcome == Ownership::Flagged {
            self.store
                .enqueue(&self.tell(r, words, &reasons), now)
                .await?;
        }
        Ok(outcome)
    }

    /// The messages telling the operator and the admins of a flag.
    fn tell(&self, r: &Registration, words: &str, reasons: &[String]) -> Vec<OutboxMessage> {
        let grace = shared::duration::format_duration(self.grace_secs as u64);
        let body = format!(
            "The ownership token of the mirror {name} {words} under its base URLs, and has not \
             been for {grace}:\n\n{}\n\nIf the mirror is still yours, publish the token again at \
             <base>/{path} (it is on the registration's page: {url}/registrations/{name}). If it \
             is not, tell the admins. The mirror is served on its checks meanwhile.\n",
            reasons.join("\n"),
            name = r.name,
            path = proof::PATH,
            url = self.public_url,
        );
        let mut to = vec![r.contact.clone()];
        to.extend(
            self.admins
                .iter()
                .filter(|a| !a.eq_ignore_ascii_case(&r.contact))
                .cloned(),
        );
        to.into_iter()
            .map(|recipient| OutboxMessage {
                mirror: r.name.clone(),
                kind: "ownership".into(),
                channel: "email".into(),
                recipient,
                subject: format!("Ownership of {} is no longer proven", r.name),
                body: body.clone(),
            })
            .collect()
    }
}
