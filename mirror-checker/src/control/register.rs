//! Registering a mirror, by the form or the API: its fields are judged by the registry's
//! own judge, each problem returned beside its field; an accepted registration gets its
//! ownership token and waits for its proof and an admin. Anyone may register (that is how
//! a new operator starts), counted like sign-in requests; a contact address that is not the
//! signed-in one is mailed a link first, and nothing goes on until it is followed.

use super::request;
use super::web::{self, Refused, Who};
use super::{pages, secret, signin, Control};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use shared::registry::form::{judge_fields, FIELDS};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use store::{AuditEntry, Registration, RegistrationState};

/// A registration whose contact never followed the link is dropped after this.
const UNCONFIRMED_TTL_SECS: i64 = 24 * 3600;

/// (field, problem) pairs, as the form shows them and the API returns them.
pub type Problems = Vec<(String, String)>;

/// What a registration came to.
pub enum Registered {
    Created(Box<Registration>, Problems),
    /// The judge's (or the control plane's) rejections, and its warnings.
    Rejected(Problems, Problems),
}

/// Judges and stores a registration from `who` (anyone) at client network `network`.
pub async fn register(
    c: &Control,
    who: Option<&Who>,
    fields: &BTreeMap<String, String>,
    network: &str,
    via: &str,
) -> Result<Registered, Refused> {
    if who.is_some_and(|w| w.token.is_some()) {
        return Err(Refused::Forbidden(
            "an API token acts for its own mirror only: register signed in, or not signed in"
                .into(),
        ));
    }
    let judged = judge_fields(fields, &c.rules);
    let mut errors = judged.errors;
    let contact = signin::address_in(fields.get("email").map_or("", String::as_str), "email");
    let contact = match contact {
        Ok(a) => Some(a),
        Err(Refused::Field { message, .. }) => {
            errors.push(("email".into(), format!("{message}: sign-in links go to it")));
            None
        }
        Err(other) => return Err(other),
    };
    let (Some(mirror), Some(contact), true) = (judged.mirror, contact, errors.is_empty()) else {
        return Ok(Registered::Rejected(errors, judged.warnings));
    };
    let now = shared::time::now();
    counted(c, &contact, network, now).await?;
    let confirmed = who.is_some_and(|w| w.address.eq_ignore_ascii_case(&contact));
    let r = Registration {
        name: mirror.name.clone(),
        contact: contact.clone(),
        yaml: judged.yaml,
        token: secret::new_token(),
        state: if confirmed {
            RegistrationState::Proving
        } else {
            RegistrationState::Unconfirmed
        },
        proof: None,
        proven_at: None,
        created_at: now,
        updated_at: now,
        decided_by: None,
        reason: None,
        proof_missing_since: None,
        ownership_flagged_at: None,
    };
    c.store
        .expire_unconfirmed(now - UNCONFIRMED_TTL_SECS)
        .await?;
    if !c.store.create_registration(&r).await? {
        let taken = format!("{} is registered already", mirror.name);
        return Ok(Registered::Rejected(
            vec![("name".into(), taken)],
            judged.warnings,
        ));
    }
    c.store
        .audit(&AuditEntry {
            at: now,
            actor: who.map_or(contact.clone(), |w| w.address.clone()),
            via: who.map_or(via.to_string(), |w| w.via(via)),
            action: "register".into(),
            subject: r.name.clone(),
            before: None,
            after: Some(r.yaml.clone()),
        })
        .await?;
    if !confirmed {
        let (sender, to, name) = (c.clone(), contact, r.name.clone());
        tokio::spawn(async move {
            let intro = format!(
                "Someone (we hope you) registered the mirror {name} with {to} as its contact. \
                 Follow the link to confirm the address and see how to prove the mirror is yours."
            );
            signin::send_link(&sender, &to, "Confirm your mirror registration", &intro).await;
        });
    }
    Ok(Registered::Created(Box::new(r), judged.warnings))
}

/// Registrations are counted with sign-in requests: per contact address and client network.
async fn counted(c: &Control, contact: &str, network: &str, now: i64) -> Result<(), Refused> {
    let since = now - c.config.signin_window.as_secs() as i64;
    let key = secret::hash(&format!("register:{contact}"));
    let (by_address, by_network) = c
        .store
        .count_signin_request(now, &key, network, since)
        .await?;
    if by_address > c.config.signin_per_address || by_network > c.config.signin_per_network {
        let window = shared::duration::format_duration(c.config.signin_window.as_secs());
        return Err(Refused::TooMany(format!(
            "too many registrations from your network or for this address; try again within {window}"
        )));
    }
    Ok(())
}

/// `GET /register`: the form (signed in or not).
pub async fn form_page(State(c): State<Control>, headers: HeaderMap) -> Response {
    let who = match request::who(&c, &headers).await {
        Ok(w) => w,
        Err(r) => return r.into_response(false),
    };
    let mut values = BTreeMap::new();
    if let Some(w) = &who {
        values.insert("email".to_string(), w.address.clone());
    }
    form_answer(
        &c,
        &headers,
        who.as_ref(),
        &values,
        &[],
        &[],
        StatusCode::OK,
    )
}

fn form_answer(
    c: &Control,
    headers: &HeaderMap,
    who: Option<&Who>,
    values: &BTreeMap<String, String>,
    errors: &[(String, String)],
    warnings: &[(String, String)],
    status: StatusCode,
) -> Response {
    let (csrf, set) = match who {
        Some(w) => (w.csrf(), None),
        None => request::anonymous_csrf(c, headers),
    };
    let page = pages::registration::form(who, &csrf, values, errors, warnings);
    let mut r = web::html(status, page);
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

/// `POST /register`.
pub async fn form_post(
    State(c): State<Control>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let who = request::who(&c, &headers).await?;
        let allowed: Vec<&str> = FIELDS.iter().copied().chain(["csrf"]).collect();
        let fields = request::form(body, &allowed).await?;
        match &who {
            Some(w) => request::check_csrf(w, &fields)?,
            None => request::check_anonymous_csrf(&c, &headers, &fields)?,
        }
        let mut values: BTreeMap<String, String> = fields.into_iter().collect();
        values.remove("csrf");
        let network = request::client_network(&c, peer, &headers);
        let outcome = register(&c, who.as_ref(), &values, &network, "page").await?;
        Ok::<_, Refused>((who, values, outcome))
    };
    match result.await {
        Err(r) => r.into_response(false),
        Ok((who, values, Registered::Rejected(errors, warnings))) => form_answer(
            &c,
            &headers,
            who.as_ref(),
            &values,
            &errors,
            &warnings,
            StatusCode::BAD_REQUEST,
        ),
        Ok((_, _, Registered::Created(r, _))) if r.state == RegistrationState::Proving => {
            let to = HeaderValue::from_str(&format!("/registrations/{}", r.name))
                .expect("mirror names are host names");
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        Ok((_, _, Registered::Created(r, _))) => web::html(
            StatusCode::OK,
            pages::message(
                "Check your mail",
                &format!(
                    "{} is registered. A link is on its way to {}: follow it within 15 minutes \
                     to confirm the address, then the page it opens says how to prove the \
                     mirror is yours.",
                    r.name, r.contact
                ),
            ),
        ),
    }
}

/// A JSON field's value as the form would give it: lists one item per line.
fn form_value(field: &str, v: &serde_json::Value) -> Result<String, Refused> {
    use serde_json::Value;
    let item = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let text = match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(item)
            .collect::<Option<Vec<_>>>()
            .map(|i| i.join("\n")),
        other => item(other),
    };
    text.ok_or_else(|| Refused::Field {
        field: field.into(),
        message: "expected a string, a number, a boolean or a list of strings".into(),
    })
}

/// The API's registration body as the form's fields.
pub async fn api_fields(
    headers: &HeaderMap,
    body: Body,
) -> Result<BTreeMap<String, String>, Refused> {
    let map = request::json_body(headers, body, FIELDS).await?;
    map.iter()
        .map(|(k, v)| Ok((k.clone(), form_value(k, v)?)))
        .collect()
}
