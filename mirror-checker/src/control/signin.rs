//! Signing in by a mailed link, and out. A request gets the same answer whether or not the
//! address is known (the mail goes out off the request's path, so not even its timing
//! says), and is counted against its address and its client network first.

use super::request;
use super::web::{self, Refused};
use super::{mail, pages, secret, Control};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use http::{header, HeaderMap, StatusCode};
use std::net::SocketAddr;
use store::{AuditEntry, LinkUse};

/// A sign-in link works this long.
pub const LINK_TTL_SECS: i64 = 15 * 60;

/// `/`: the signed-in person's mirrors, or the sign-in form.
pub async fn home(State(c): State<Control>, headers: HeaderMap) -> Response {
    match request::who(&c, &headers).await {
        Ok(Some(who)) => {
            let lists = async {
                let names = super::mirrors::visible(&c, &who).await?;
                let contact = (!who.admin).then_some(who.address.as_str());
                let registrations = c.store.registrations(contact).await?;
                Ok::<_, Refused>(pages::mirrors(&who, &names, &registrations))
            };
            match lists.await {
                Ok(page) => web::html(StatusCode::OK, page),
                Err(r) => r.into_response(false),
            }
        }
        Ok(None) => signin_page(&c, &headers, None, StatusCode::OK),
        Err(r) => r.into_response(false),
    }
}

fn signin_page(
    c: &Control,
    headers: &HeaderMap,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, set) = request::anonymous_csrf(c, headers);
    let mut r = web::html(status, pages::signin(&csrf, notice));
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

/// A contact address as given in a form: trimmed, lower-cased, one `@`, no spaces.
pub fn address(raw: &str) -> Result<String, Refused> {
    address_in(raw, "address")
}

/// [`address`], naming `field` when it is wrong.
pub fn address_in(raw: &str, field: &str) -> Result<String, Refused> {
    let a = raw.trim().to_ascii_lowercase();
    let bad = |message: &str| Refused::Field {
        field: field.into(),
        message: message.into(),
    };
    if a.is_empty() {
        return Err(bad("missing"));
    }
    if a.len() > 254 || a.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return Err(bad("not an e-mail address"));
    }
    match a.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
        {
            Ok(a)
        }
        _ => Err(bad("not an e-mail address (name@example.org)")),
    }
}

/// `POST /signin`: mails a link when the address may sign in; says the same either way.
pub async fn request(
    State(c): State<Control>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let fields = request::form(body, &["csrf", "address"]).await?;
        request::check_anonymous_csrf(&c, &headers, &fields)?;
        let address = address(fields.get("address").map_or("", String::as_str))?;
        let now = shared::time::now();
        let since = now - c.config.signin_window.as_secs() as i64;
        let network = request::client_network(&c, peer, &headers);
        let (by_address, by_network) = c
            .store
            .count_signin_request(now, &secret::hash(&address), &network, since)
            .await?;
        let window = shared::duration::format_duration(c.config.signin_window.as_secs());
        if by_address > c.config.signin_per_address {
            return Err(Refused::TooMany(format!(
                "too many sign-in requests for this address; try again within {window}"
            )));
        }
        if by_network > c.config.signin_per_network {
            return Err(Refused::TooMany(format!(
                "too many sign-in requests from your network ({network}); try again within {window}"
            )));
        }
        let sender = c.clone();
        let to = address.clone();
        tokio::spawn(async move { deliver(&sender, &to).await });
        Ok(address)
    }
    .await;
    match result {
        Ok(address) => {
            let notice = format!(
                "If {address} is the contact of a registered mirror or a registration, or an admin's, a sign-in link is on its way to it. It works once, within 15 minutes."
            );
            signin_page(&c, &headers, Some(&notice), StatusCode::OK)
        }
        Err(r) => r.into_response(false),
    }
}

/// Mails a sign-in link to `address` when it may sign in (silently nothing otherwise).
async fn deliver(c: &Control, address: &str) {
    let known = async {
        Ok::<_, store::StoreError>(c.is_admin(address).await? || c.store.is_contact(address).await?)
    };
    match known.await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => return tracing::error!("sign-in for an address: {e}"),
    }
    let intro = format!("Someone (we hope you) asked to sign in to mirror control as {address}.");
    send_link(c, address, "Your sign-in link for mirror control", &intro).await;
}

/// Mails `address` a new sign-in link, after `intro`.
pub async fn send_link(c: &Control, address: &str, subject: &str, intro: &str) {
    let token = secret::new_token();
    let now = shared::time::now();
    let stored = c
        .store
        .create_signin_link(&secret::hash(&token), address, now, now + LINK_TTL_SECS)
        .await;
    if let Err(e) = stored {
        return tracing::error!("sign-in link not stored: {e}");
    }
    let link = format!("{}/signin/{token}", c.public_url);
    let message = mail::Message {
        to: address.to_string(),
        subject: subject.into(),
        body: format!(
            "{intro}\n\n\
             Open this link within 15 minutes to sign in; it works once:\n\n{link}\n\n\
             If it was not you, ignore this message: nothing happens without the link.\n"
        ),
        unsubscribe: None,
    };
    if let Err(e) = c.mailer.send(&message).await {
        tracing::error!("sign-in mail to {address} not sent: {e}");
    }
}

/// `GET /signin/TOKEN`: a button that signs in (following the link does not use it up).
pub async fn confirm(
    State(c): State<Control>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if token.len() != 43 {
        return link_refused();
    }
    let (csrf, set) = request::anonymous_csrf(&c, &headers);
    let mut r = web::html(StatusCode::OK, pages::confirm(&token, &csrf));
    if let Some(set) = set {
        r.headers_mut().append(header::SET_COOKIE, set);
    }
    r
}

fn link_refused() -> Response {
    Refused::Forbidden(
        "this sign-in link is unknown, used already or expired: ask for another from the start page".into(),
    )
    .into_response(false)
}

/// `POST /signin/TOKEN`: uses the link once and starts a session.
pub async fn follow(
    State(c): State<Control>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let checked = async {
        let fields = request::form(body, &["csrf"]).await?;
        request::check_anonymous_csrf(&c, &headers, &fields)
    };
    if let Err(r) = checked.await {
        return r.into_response(false);
    }
    let now = shared::time::now();
    let address = match c.store.use_signin_link(&secret::hash(&token), now).await {
        Ok(LinkUse::SignedIn(a)) => a,
        Ok(LinkUse::Refused) => return link_refused(),
        Err(e) => return Refused::from(e).into_response(false),
    };
    let id = secret::new_token();
    let max = c.config.session_max.as_secs();
    let started = async {
        c.store
            .create_session(&secret::hash(&id), &address, now, now + max as i64)
            .await?;
        c.store.audit(&audit(&address, "sign in", None)).await?;
        // Following the link proves the address: its registrations go on to be proven.
        c.store.confirm_registrations(&address, now).await.map(drop)
    };
    if let Err(e) = started.await {
        return Refused::from(e).into_response(false);
    }
    let cookie = web::set_cookie(&c, &web::cookie_name(&c, "mc_session"), &id, Some(max));
    web::home_setting(cookie)
}

fn audit(address: &str, action: &str, after: Option<String>) -> AuditEntry {
    AuditEntry {
        at: shared::time::now(),
        actor: address.to_string(),
        via: "page".into(),
        action: action.into(),
        subject: address.to_string(),
        before: None,
        after,
    }
}

/// `POST /signout`: ends this session, or with `everywhere` every session of the address.
pub async fn signout(State(c): State<Control>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let (who, fields) =
            request::signed_form(&c, &headers, body, &["csrf", "everywhere"]).await?;
        let everywhere = fields.get("everywhere").is_some_and(|v| v == "1");
        if everywhere {
            c.store.end_sessions_of(&who.address).await?;
        } else {
            c.store.end_session(&secret::hash(&who.session_id)).await?;
        }
        let action = if everywhere {
            "sign out everywhere"
        } else {
            "sign out"
        };
        c.store.audit(&audit(&who.address, action, None)).await?;
        Ok::<_, Refused>(())
    };
    match result.await {
        Ok(()) => {
            let gone = web::set_cookie(&c, &web::cookie_name(&c, "mc_session"), "", Some(0));
            web::home_setting(gone)
        }
        Err(r) => r.into_response(false),
    }
}
