//! Webhooks: a mirror's changes of state as JSON POSTed to the https URL its operator chose,
//! signed with the mirror's secret. The signature is HMAC-SHA256 over `TIMESTAMP.BODY`, sent
//! as `X-Mirror-Signature: sha256=HEX` with `X-Mirror-Timestamp: TIMESTAMP` (Unix seconds),
//! so a receiver checks both the body and its freshness. Written to the outbox like mail,
//! delivered and retried the same way; each attempt's HTTP status is kept for the page.

use crate::http::HttpClient;
use shared::model::HealthState;
use shared::registry::Mirror;
use std::collections::BTreeMap;
use store::{HealthEvent, OutboxMessage, Store};

/// The capabilities whose changes are sent (as for mail).
const SENT: &[&str] = &["http", "https", "ipv4", "ipv6", "content", "sync"];

/// The payload for `mirror`'s `events`, as the OpenAPI document describes it.
pub fn payload(mirror: &str, events: &[&HealthEvent], base: &str) -> serde_json::Value {
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "capability": e.capability, "from": e.old_state.as_str(),
                "to": e.new_state.as_str(), "reason": e.reason, "at": e.at,
            })
        })
        .collect();
    serde_json::json!({
        "mirror": mirror, "events": events, "page": format!("{base}/mirrors/{mirror}"),
    })
}

/// One webhook message per mirror with a webhook (`hooks`: mirror → URL) whose told
/// capabilities changed state in `events`.
pub fn messages(
    mirrors: &[(i64, Mirror)],
    events: &[HealthEvent],
    hooks: &BTreeMap<String, String>,
    base: &str,
) -> Vec<OutboxMessage> {
    let mut by_mirror: BTreeMap<&str, Vec<&HealthEvent>> = BTreeMap::new();
    for e in events {
        let known = matches!(
            (e.old_state, e.new_state),
            (HealthState::Up, HealthState::Down) | (HealthState::Down, HealthState::Up)
        );
        if !known || !SENT.contains(&e.capability.as_str()) {
            continue;
        }
        if let Some((_, m)) = mirrors.iter().find(|(id, _)| *id == e.mirror_id) {
            if hooks.contains_key(&m.name) {
                by_mirror.entry(m.name.as_str()).or_default().push(e);
            }
        }
    }
    by_mirror
        .into_iter()
        .map(|(name, es)| {
            let caps: Vec<&str> = es.iter().map(|e| e.capability.as_str()).collect();
            OutboxMessage {
                mirror: name.to_string(),
                kind: "changes".into(),
                channel: "webhook".into(),
                recipient: hooks[name].clone(),
                subject: format!("{name}: {} changed", caps.join(", ")),
                body: payload(name, &es, base).to_string(),
            }
        })
        .collect()
}

/// `sha256=HEX` of HMAC-SHA256 with `secret` over `TIMESTAMP.BODY`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// What an attempt came to: the receiver's status when it answered 2xx, else why not.
pub async fn send(
    store: &Store,
    client: &HttpClient,
    (mirror, url, body): (&str, &str, &str),
    now: i64,
) -> Result<u16, String> {
    let hook = store
        .webhooks(Some(mirror))
        .await
        .map_err(|e| e.to_string())?
        .pop()
        .filter(|h| h.url == url)
        .ok_or("not sent: the mirror's webhook was removed or changed since")?;
    let parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let headers = [
        ("x-mirror-timestamp", now.to_string()),
        ("x-mirror-signature", signature(&hook.secret, now, body)),
    ];
    let body = bytes::Bytes::copy_from_slice(body.as_bytes());
    match client.post_json(&parsed, &headers, body).await {
        Ok(status) if (200..300).contains(&status) => Ok(status),
        Ok(status) => Err(format!("the webhook answered HTTP {status}")),
        Err(e) => Err(format!("the webhook could not be reached: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_the_timestamp_and_the_body() {
        // As `printf '1.{}' | openssl dgst -sha256 -hmac Jefe` computes it.
        assert_eq!(
            signature("Jefe", 1, "{}"),
            "sha256=dc7943cccf20f64327d263db5e2aca27c2b8175e8e6e7ea04f482091bf456b0f"
        );
        assert_ne!(signature("Jefe", 2, "{}"), signature("Jefe", 1, "{}"));
    }
}
