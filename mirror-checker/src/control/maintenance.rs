//! Maintenance windows, declared by a mirror's operators, its API tokens or an admin (page,
//! API, `mirror-checker maintenance`): judged by `shared::maintenance`'s rules, merged
//! with the windows they overlap, changed, ended early; every one in the audit log.

use super::mirrors::{mirror_page_with, own};
use super::request;
use super::web::{self, Refused, Who};
use super::Control;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use shared::duration::utc_minute;
use std::collections::HashMap;
use store::{AuditEntry, MaintenanceWindow, WindowPlan};

/// A window as people write it: `scope`, `from` (default now), `until` (a time, or a
/// length from the start such as `6h`), `note`.
pub type Asked = HashMap<String, String>;

fn field(message: String, name: &str) -> Refused {
    Refused::Field {
        field: name.into(),
        message,
    }
}

/// `asked` read over `base` (a window being changed): what is not given stays.
fn plan_of(
    c: &Control,
    mirror: &str,
    asked: &Asked,
    base: Option<&MaintenanceWindow>,
    now: i64,
) -> Result<WindowPlan, Refused> {
    let given = |k: &str| asked.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let scope = match (given("scope"), base) {
        (None, Some(b)) => b.scope,
        (s, _) => {
            shared::maintenance::parse_scope(s.unwrap_or("")).map_err(|e| field(e, "scope"))?
        }
    };
    let from = match (given("from"), base) {
        (None, Some(b)) => b.from,
        (f, _) => shared::maintenance::parse_time(f.unwrap_or("now"), now)
            .map_err(|e| field(e, "from"))?,
    };
    let until = match (given("until"), base) {
        (None, Some(b)) => b.until,
        (None, None) => {
            return Err(field(
                "missing: a time, or a length such as 6h".into(),
                "until",
            ))
        }
        (Some(u), _) => {
            shared::maintenance::parse_until(u, from, now).map_err(|e| field(e, "until"))?
        }
    };
    let note = match (asked.get("note"), base) {
        (None, Some(b)) => b.note.clone(),
        (n, _) => shared::text::bounded(n.map_or("", |n| n.trim()), shared::maintenance::MAX_NOTE),
    };
    let started = base.is_some_and(|b| b.from <= now && from == b.from);
    let max = c.config.maintenance_max.as_secs() as i64;
    shared::maintenance::judge(from, until, now, max, started).map_err(|e| field(e, "until"))?;
    Ok(WindowPlan {
        mirror: mirror.into(),
        scope,
        from,
        until,
        note,
    })
}

/// How a window reads in the audit log and in answers.
pub fn describe(w: &MaintenanceWindow) -> String {
    let note = if w.note.is_empty() {
        String::new()
    } else {
        format!(": {}", w.note)
    };
    format!(
        "#{} {} from {} until {}{note}",
        w.id,
        w.scope.as_str(),
        utc_minute(w.from),
        utc_minute(w.until)
    )
}

async fn audited(
    c: &Control,
    who: &Who,
    via: &str,
    action: &str,
    mirror: &str,
    before: Option<&MaintenanceWindow>,
    after: Option<&MaintenanceWindow>,
) -> Result<(), Refused> {
    c.store
        .audit(&AuditEntry {
            at: shared::time::now(),
            actor: who.address.clone(),
            via: who.via(via),
            action: action.into(),
            subject: mirror.into(),
            before: before.map(describe),
            after: after.map(describe),
        })
        .await?;
    Ok(())
}

/// Declares a window on `mirror`: the window as it stands after merging.
pub async fn declare(
    c: &Control,
    who: &Who,
    mirror: &str,
    asked: &Asked,
    via: &str,
) -> Result<MaintenanceWindow, Refused> {
    own(c, who, mirror).await?;
    let now = shared::time::now();
    let plan = plan_of(c, mirror, asked, None, now)?;
    let max = c.config.maintenance_max.as_secs() as i64;
    let w = c
        .store
        .add_window(&plan, &who.address, max, now)
        .await?
        .map_err(|e| field(e, "until"))?;
    audited(c, who, via, "maintenance add", mirror, None, Some(&w)).await?;
    Ok(w)
}

/// The live window `id` of `mirror`.
async fn window_of(c: &Control, mirror: &str, id: &str) -> Result<MaintenanceWindow, Refused> {
    let missing = || {
        Refused::NotFound(format!(
            "{mirror} has no maintenance window {}",
            shared::text::bounded(id, 20)
        ))
    };
    let id: i64 = id.parse().map_err(|_| missing())?;
    match c.store.window(id).await? {
        Some(w) if w.mirror == mirror => Ok(w),
        _ => Err(missing()),
    }
}

/// Changes window `id` of `mirror` to what `asked` gives.
pub async fn change(
    c: &Control,
    who: &Who,
    mirror: &str,
    id: &str,
    asked: &Asked,
    via: &str,
) -> Result<MaintenanceWindow, Refused> {
    own(c, who, mirror).await?;
    let before = window_of(c, mirror, id).await?;
    let now = shared::time::now();
    if before.until <= now {
        return Err(field(
            "the window is over: declare a new one".into(),
            "until",
        ));
    }
    if asked
        .get("scope")
        .is_some_and(|s| s.trim() != before.scope.as_str() && !s.trim().is_empty())
    {
        return Err(field(
            "a window's scope stays: end it and declare another".into(),
            "scope",
        ));
    }
    let plan = plan_of(c, mirror, asked, Some(&before), now)?;
    let max = c.config.maintenance_max.as_secs() as i64;
    let changed = c
        .store
        .change_window(before.id, &plan, &who.address, max, now)
        .await?;
    let after = changed
        .ok_or_else(|| Refused::NotFound(format!("{mirror} has no maintenance window {id}")))?
        .map_err(|e| field(e, "until"))?;
    audited(
        c,
        who,
        via,
        "maintenance change",
        mirror,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Ends window `id` of `mirror` now (one still to come is cancelled).
pub async fn end(c: &Control, who: &Who, mirror: &str, id: &str, via: &str) -> Result<(), Refused> {
    own(c, who, mirror).await?;
    let before = window_of(c, mirror, id).await?;
    let now = shared::time::now();
    let Some(w) = c.store.end_window(before.id, now).await? else {
        return Err(field("the window is over already".into(), "until"));
    };
    let action = if w.from > now {
        "maintenance cancel"
    } else {
        "maintenance end"
    };
    audited(c, who, via, action, mirror, Some(&w), None).await
}

/// A window in the API's words.
pub fn json_of(w: &MaintenanceWindow, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": w.id, "mirror": w.mirror, "scope": w.scope.as_str(), "from": w.from,
        "until": w.until, "note": w.note, "created_by": w.created_by,
        "holds": w.from <= now && now < w.until,
    })
}

fn back_to(mirror: &str) -> Response {
    web::see_other(&format!("/mirrors/{mirror}"))
}

const FIELDS: &[&str] = &["csrf", "scope", "from", "until", "note"];

/// `POST /mirrors/NAME/maintenance`: declared, or the page again with the reason.
pub async fn add_form(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, fields) = match request::signed_form(&c, &headers, body, FIELDS).await {
        Ok(signed) => signed,
        Err(r) => return r.into_response(false),
    };
    match declare(&c, &who, &mirror, &fields, "page").await {
        Ok(_) => back_to(&mirror),
        Err(Refused::Field { field, message }) => {
            refused_on_page(&c, &who, &mirror, &field, &message).await
        }
        Err(r) => r.into_response(false),
    }
}

/// The mirror's page with a window's problem shown beside its form (a 422).
async fn refused_on_page(
    c: &Control,
    who: &Who,
    mirror: &str,
    field: &str,
    message: &str,
) -> Response {
    match mirror_page_with(c, who, mirror, None, Some((field, message)), None).await {
        Ok(page) => web::html(StatusCode::UNPROCESSABLE_ENTITY, page),
        Err(r) => r.into_response(false),
    }
}

/// `POST /mirrors/NAME/maintenance/ID` (change) and `/mirrors/NAME/maintenance/ID/end`.
pub async fn window_form(
    State(c): State<Control>,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, fields) = match request::signed_form(&c, &headers, body, FIELDS).await {
        Ok(signed) => signed,
        Err(r) => return r.into_response(false),
    };
    let (mirror, id) = (path[0].as_str(), path[1].as_str());
    let result = match path.get(2).map(String::as_str) {
        None => change(&c, &who, mirror, id, &fields, "page")
            .await
            .map(|_| ()),
        Some("end") => end(&c, &who, mirror, id, "page").await,
        Some(other) => Err(Refused::NotFound(format!(
            "no action {}",
            shared::text::bounded(other, 40)
        ))),
    };
    match result {
        Ok(()) => back_to(mirror),
        Err(Refused::Field { field, message }) => {
            refused_on_page(&c, &who, mirror, &field, &message).await
        }
        Err(r) => r.into_response(false),
    }
}

/// JSON object fields as the form's strings.
fn asked_of(map: &serde_json::Map<String, serde_json::Value>) -> Result<Asked, Refused> {
    let mut asked = Asked::new();
    for (k, v) in map {
        match v {
            serde_json::Value::String(s) => {
                asked.insert(k.clone(), s.clone());
            }
            serde_json::Value::Null => {}
            _ => {
                return Err(field(
                    "must be a string (times as 2026-12-03T18:00Z, lengths as 6h)".into(),
                    k,
                ))
            }
        }
    }
    Ok(asked)
}

const JSON_FIELDS: &[&str] = &["scope", "from", "until", "note"];

/// `GET /api/v1/mirrors/NAME/maintenance`: its windows still to come or holding.
pub async fn api_list(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        own(&c, &who, &mirror).await?;
        let now = shared::time::now();
        let windows = c.store.windows(Some(&mirror), now).await?;
        let list: Vec<_> = windows.iter().map(|w| json_of(w, now)).collect();
        Ok::<_, Refused>(serde_json::json!({ "mirror": mirror, "windows": list }))
    };
    match result.await {
        Ok(v) => web::json(StatusCode::OK, &v),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/maintenance`: 201 with the window as it stands.
pub async fn api_add(
    State(c): State<Control>,
    Path(mirror): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, map) = request::signed_json(&c, &headers, body, JSON_FIELDS).await?;
        declare(&c, &who, &mirror, &asked_of(&map)?, "api").await
    };
    match result.await {
        Ok(w) => web::json(StatusCode::CREATED, &json_of(&w, shared::time::now())),
        Err(r) => r.into_response(true),
    }
}

/// `POST /api/v1/mirrors/NAME/maintenance/ID` (change) and `.../ID/end`.
pub async fn api_window(
    State(c): State<Control>,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (mirror, id) = (path[0].as_str(), path[1].as_str());
        let (who, map) = request::signed_json(&c, &headers, body, JSON_FIELDS).await?;
        match path.get(2).map(String::as_str) {
            None => change(&c, &who, mirror, id, &asked_of(&map)?, "api")
                .await
                .map(|w| json_of(&w, shared::time::now())),
            Some("end") => end(&c, &who, mirror, id, "api").await.map(|()| {
                let id = id.parse::<i64>().unwrap_or_default();
                serde_json::json!({ "mirror": mirror, "id": id, "ended": true })
            }),
            Some(other) => Err(Refused::NotFound(format!(
                "no action {}",
                shared::text::bounded(other, 40)
            ))),
        }
    };
    match result.await {
        Ok(v) => web::json(StatusCode::OK, &v),
        Err(r) => r.into_response(true),
    }
}
