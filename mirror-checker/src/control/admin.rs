//! What only admins see: the queue of registrations to decide, and the audit log.

use super::request;
use super::web::{self, Refused, Who};
use super::{pages, Control};
use axum::extract::{Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use store::{AuditEntry, Registration, RegistrationState};

/// How many audit entries a page or a request shows at most.
const AUDIT_LIMIT: i64 = 500;

async fn admin(c: &Control, headers: &HeaderMap) -> Result<Who, Refused> {
    let who = request::signed_in(c, headers).await?;
    if !who.admin {
        return Err(Refused::Forbidden(format!(
            "{} is not an admin: only admins see this",
            who.address
        )));
    }
    Ok(who)
}

/// Registrations not yet decided (those waiting for an admin first, then by age), and
/// served ones whose ownership is flagged.
pub async fn open(c: &Control) -> store::Result<Vec<Registration>> {
    let mut open: Vec<Registration> = c
        .store
        .registrations(None)
        .await?
        .into_iter()
        .filter(|r| {
            r.ownership_flagged_at.is_some()
                || !matches!(
                    r.state,
                    RegistrationState::Approved | RegistrationState::Refused
                )
        })
        .collect();
    open.sort_by_key(|r| (r.state != RegistrationState::Waiting, r.created_at));
    Ok(open)
}

/// `GET /admin`.
pub async fn queue(State(c): State<Control>, headers: HeaderMap) -> Response {
    let result = async {
        let who = admin(&c, &headers).await?;
        let changes = c.store.pending_changes(None).await?;
        // Messages that could not be delivered (or wait with a failure): channels to fix.
        let failing: Vec<store::Delivery> = c
            .store
            .deliveries(None, 200)
            .await?
            .into_iter()
            .filter(|d| d.delivered_at.is_none() && d.last_error.is_some())
            .collect();
        let open = open(&c).await?;
        Ok::<_, Refused>(pages::admin::queue(&who, &open, &changes, &failing))
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    subject: Option<String>,
}

/// `GET /admin/audit`.
pub async fn audit_page(State(c): State<Control>, headers: HeaderMap) -> Response {
    let result = async {
        let who = admin(&c, &headers).await?;
        let entries = c.store.audit_log(None, AUDIT_LIMIT).await?;
        Ok::<_, Refused>(pages::admin::audit(&who, &entries))
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

pub fn entry_json(e: &AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "at": e.at, "actor": e.actor, "via": e.via, "action": e.action,
        "subject": e.subject, "before": e.before, "after": e.after,
    })
}

/// `GET /api/v1/audit[?subject=NAME]`: admins see every entry; an operator only those of
/// their own mirrors and registrations.
pub async fn audit_api(
    State(c): State<Control>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let Query(q) = query.map_err(|e| Refused::Field {
            field: "query".into(),
            message: e.body_text(),
        })?;
        let Some(subject) = q.subject else {
            admin(&c, &headers).await?;
            return Ok(c.store.audit_log(None, AUDIT_LIMIT).await?);
        };
        if !who.admin {
            let mine = super::mirrors::visible(&c, &who).await?.contains(&subject)
                || super::registration::own(&c, &who, &subject).await.is_ok();
            if !mine {
                return Err(Refused::Forbidden(format!(
                    "{} is not yours: only its operators and the admins see its log",
                    shared::text::bounded(&subject, 100)
                )));
            }
        }
        Ok::<_, Refused>(c.store.audit_log(Some(&subject), AUDIT_LIMIT).await?)
    };
    match result.await {
        Ok(entries) => {
            let list: Vec<_> = entries.iter().map(entry_json).collect();
            web::json(StatusCode::OK, &serde_json::json!({ "entries": list }))
        }
        Err(r) => r.into_response(true),
    }
}
