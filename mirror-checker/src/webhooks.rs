//! Webhooks: a mirror's changes of state as JSON POSTed to the https URL its operator chose,
//! signed with the mirror's secret. The signature is HMAC-SHA256 over `TIMESTAMP.BODY`, sent
//! as `X-Mirror-Signature: sha256=HEX` with `X-Mirror-Timestamp: TIMESTAMP` (Unix seconds),
//! so a receiver checks both the body and its freshness. Written to the outbox like mail,
//! delivered and retried the same way; each attempt's HTTP status is kept for the page.

use crate::http::HttpClient;
use shared::registry::Mirror;
use std::collections::BTreeMap;
use store::{HealthEvent, OutboxMessage, Store};

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
    for e in events.iter().filter(|e| crate::notifications::told(e)) {
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

/// A webhook message for `mirror` carrying `what` (a `notice` or a `decision` object) beside
/// the empty `events`.
fn other(
    mirror: &str,
    url: &str,
    (key, what): (&str, serde_json::Value),
    subject: &str,
    base: &str,
) -> OutboxMessage {
    let mut body = payload(mirror, &[], base);
    body[key] = what;
    OutboxMessage {
        mirror: mirror.to_string(),
        kind: key.into(),
        channel: "webhook".into(),
        recipient: url.to_string(),
        subject: subject.to_string(),
        body: body.to_string(),
    }
}

/// The ops' notice to the webhooks of `hooks` (mirror → URL) among `mirrors` (those of
/// `country`, when given).
pub fn notice(
    mirrors: &[Mirror],
    hooks: &BTreeMap<String, String>,
    (subject, text): (&str, &str),
    country: Option<&str>,
    base: &str,
) -> Vec<OutboxMessage> {
    mirrors
        .iter()
        .filter(|m| crate::notifications::for_country(m, country))
        .filter_map(|m| {
            let url = hooks.get(&m.name)?;
            let what = serde_json::json!({ "subject": subject, "body": text });
            Some(other(&m.name, url, ("notice", what), subject, base))
        })
        .collect()
}

/// An admin's decision on `mirror` (`approved`, `refused`, `held`, `released`) to its
/// webhook at `url`.
pub fn decision(
    mirror: &str,
    url: &str,
    kind: &str,
    reason: Option<&str>,
    base: &str,
) -> OutboxMessage {
    let what = serde_json::json!({ "kind": kind, "reason": reason });
    other(
        mirror,
        url,
        ("decision", what),
        &format!("{mirror}: {kind}"),
        base,
    )
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

    #[test]
    fn a_notice_reaches_the_webhooks_of_the_mirrors_it_is_for() {
        let mut de = Mirror::new("de.example.org", "DE");
        de.geo.country = Some("DE".into());
        let fr = Mirror::new("fr.example.org", "FR");
        let hooks: BTreeMap<String, String> = [
            (
                "de.example.org".to_string(),
                "https://hooks.example.de/x".to_string(),
            ),
            (
                "fr.example.org".to_string(),
                "https://hooks.example.fr/x".to_string(),
            ),
        ]
        .into();
        let all = [de, fr];
        let text = ("10.2 is coming", "Sync it by Friday.");
        let base = "https://control.example.org";
        assert_eq!(notice(&all, &hooks, text, None, base).len(), 2);
        let de_only = notice(&all, &hooks, text, Some("de"), base);
        assert_eq!(de_only.len(), 1);
        assert_eq!(de_only[0].recipient, "https://hooks.example.de/x");
        let body: serde_json::Value = serde_json::from_str(&de_only[0].body).unwrap();
        assert_eq!(body["notice"]["subject"], "10.2 is coming");
        assert_eq!(body["events"], serde_json::json!([]));
    }
}
