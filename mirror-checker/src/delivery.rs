//! Delivering the outbox: every daemon tick claims the messages due under a lease (each is
//! sent once whichever checker takes it; one killed meanwhile leaves it to another when the
//! lease lapses), sends each through its channel (mail, with a one-click unsubscribe link;
//! a webhook, signed), and retries a failure with backoff for a day before giving it up,
//! the last answer kept for the mirror's page.

use crate::control::mail::{Mailer, Message};
use crate::http::HttpClient;
use store::{Outgoing, Store};

/// A message is given up this long after it was written.
const GIVE_UP_SECS: i64 = 86_400;

/// Where messages go: mail through `mailer` (its unsubscribe links under `base`, the
/// control plane's address), webhooks through `client`.
pub struct Channels<'a> {
    pub mailer: &'a Mailer,
    pub client: &'a HttpClient,
    pub base: &'a str,
}

/// What one attempt came to.
enum Attempt {
    /// Taken: by the relay, or a webhook's 2xx status.
    Sent(Option<u16>),
    /// Failed: retried later.
    Failed(String),
    /// Not to be sent at all (the contact unsubscribed, the webhook is gone).
    Dropped(String),
}

async fn attempt(
    store: &Store,
    ch: &Channels<'_>,
    m: &Outgoing,
    now: i64,
) -> store::Result<Attempt> {
    if m.channel == "webhook" {
        let target = (m.mirror.as_str(), m.recipient.as_str(), m.body.as_str());
        return Ok(
            match crate::webhooks::send(store, ch.client, target, now).await {
                Ok(status) => Attempt::Sent(Some(status)),
                Err(e) if e.starts_with("not sent") => Attempt::Dropped(e),
                Err(e) => Attempt::Failed(e),
            },
        );
    }
    if store.optouts(&m.mirror).await?.contains(&m.recipient) {
        return Ok(Attempt::Dropped(
            "not sent: the contact unsubscribed from this mirror's mail".into(),
        ));
    }
    let token = crate::control::secret::new_token();
    let hash = crate::control::secret::hash(&token);
    store
        .create_unsubscribe_link(&hash, &m.recipient, &m.mirror, now)
        .await?;
    let message = Message {
        to: m.recipient.clone(),
        subject: m.subject.clone(),
        body: m.body.clone(),
        unsubscribe: Some(format!("{}/unsubscribe/{token}", ch.base)),
    };
    let limit = std::time::Duration::from_secs(60);
    Ok(
        match tokio::time::timeout(limit, ch.mailer.send(&message)).await {
            Ok(Ok(())) => Attempt::Sent(None),
            Ok(Err(e)) => Attempt::Failed(e),
            Err(_) => Attempt::Failed("the mail relay did not answer within 60 s".into()),
        },
    )
}

/// Delivers the messages due now that `holder` claims; returns how many were sent, retried
/// and given up.
pub async fn deliver(
    store: &Store,
    channels: &Channels<'_>,
    holder: &str,
    (retry_secs, lease_secs): (i64, i64),
    now: i64,
) -> store::Result<(usize, usize, usize)> {
    let claimed = store.claim_outbox(holder, now, lease_secs, 20).await?;
    let (mut sent, mut retried, mut gave_up) = (0, 0, 0);
    for m in claimed {
        let result = attempt(store, channels, &m, now).await?;
        let at = shared::time::now();
        match result {
            Attempt::Sent(status) => {
                store.outbox_answered(m.id, holder, at, status).await?;
                sent += 1;
            }
            Attempt::Dropped(why) => {
                store.outbox_failed(m.id, holder, at, &why, None).await?;
                gave_up += 1;
            }
            Attempt::Failed(e) => {
                let backoff = (retry_secs.max(1) << m.attempts.clamp(0, 12)).min(3600);
                let retry = (at + backoff < m.created_at + GIVE_UP_SECS).then_some(at + backoff);
                tracing::warn!(to = %m.recipient, error = %e, retry = retry.is_some(), "notification not sent");
                store.outbox_failed(m.id, holder, at, &e, retry).await?;
                if retry.is_some() {
                    retried += 1;
                } else {
                    gave_up += 1;
                }
            }
        }
    }
    Ok((sent, retried, gave_up))
}

/// [`deliver`] with `control`'s timing, its outcome counted in `metrics`; returns how many
/// were sent.
pub async fn deliver_counted(
    (store, control, metrics): (
        &Store,
        &crate::control::config::ControlConfig,
        &crate::metrics::Metrics,
    ),
    (mailer, client): (&Mailer, &HttpClient),
    holder: &str,
) -> store::Result<usize> {
    let now = shared::time::now();
    let timing = (
        control.notify_retry.as_secs() as i64,
        control.notify_lease.as_secs() as i64,
    );
    let base = control.public_url(control.listen);
    let channels = Channels {
        mailer,
        client,
        base: &base,
    };
    let (sent, retried, gave_up) = deliver(store, &channels, holder, timing, now).await?;
    let backlog = store.outbox_backlog().await?;
    metrics.notifications(sent, retried, gave_up, backlog, now);
    Ok(sent)
}
