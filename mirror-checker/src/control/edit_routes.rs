//! The edit's routes: the form and the API for an edit, an admin's decision on a waiting
//! change, and a deletion; each says who may use it through `edit`'s rules.

use super::edit::{changeable, decide, delete, edit, Edited};
use super::request;
use super::web::{self, Refused};
use super::{pages, Control};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use shared::registry::change::fields_of;
use shared::registry::form::FIELDS;
use std::collections::BTreeMap;

fn see(name: &str) -> Response {
    web::see_other(&format!("/mirrors/{name}"))
}

/// `GET /mirrors/NAME/edit`.
pub async fn edit_page(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let mirror = changeable(&c, &who, &name).await?;
        Ok::<_, Refused>(pages::edit::form(
            &who,
            &name,
            &fields_of(&mirror),
            &[],
            &[],
        ))
    };
    match result.await {
        Ok(page) => web::html(StatusCode::OK, page),
        Err(r) => r.into_response(false),
    }
}

/// `POST /mirrors/NAME/edit`.
pub async fn edit_form(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let allowed: Vec<&str> = FIELDS
            .iter()
            .copied()
            .filter(|f| *f != "name")
            .chain(["csrf"])
            .collect();
        let (who, fields) = request::signed_form(&c, &headers, body, &allowed).await?;
        let mut values: BTreeMap<String, String> = fields.into_iter().collect();
        values.remove("csrf");
        let edited = edit(&c, &who, &name, values.clone(), "page").await?;
        Ok::<_, Refused>(match edited {
            Edited::Rejected(errors, warnings) => web::html(
                StatusCode::BAD_REQUEST,
                pages::edit::form(&who, &name, &values, &errors, &warnings),
            ),
            Edited::Applied => web::html(StatusCode::OK, pages::edit::done(&who, &name, &[])),
            Edited::Waiting(why) => {
                web::html(StatusCode::ACCEPTED, pages::edit::done(&who, &name, &why))
            }
        })
    };
    result.await.unwrap_or_else(|r| r.into_response(false))
}

fn problems(list: &[(String, String)]) -> Vec<serde_json::Value> {
    list.iter()
        .map(|(f, m)| serde_json::json!({ "field": f, "message": m }))
        .collect()
}

/// `POST /api/v1/mirrors/NAME/edit`: 200 applied, 202 waiting for an admin, 400 refused.
pub async fn edit_api(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let who = request::signed_in(&c, &headers).await?;
        let fields = super::register::api_fields(&headers, body).await?;
        edit(&c, &who, &name, fields, "api").await
    };
    match result.await {
        Ok(Edited::Applied) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "name": name, "applied": true, "waiting": [] }),
        ),
        Ok(Edited::Waiting(why)) => web::json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "name": name, "applied": false, "waiting": why }),
        ),
        Ok(Edited::Rejected(errors, warnings)) => {
            let first = errors.first().cloned().unwrap_or_default();
            let body = serde_json::json!({
                "error": format!("the change was refused: {}: {}", first.0, first.1),
                "field": first.0, "errors": problems(&errors), "warnings": problems(&warnings),
            });
            web::json(StatusCode::BAD_REQUEST, &body)
        }
        Err(r) => r.into_response(true),
    }
}

fn verb_of(verb: &str) -> Result<bool, Refused> {
    match verb {
        "approve" => Ok(true),
        "refuse" => Ok(false),
        _ => Err(Refused::NotFound(format!(
            "no action {}",
            shared::text::bounded(verb, 40)
        ))),
    }
}

/// `POST /mirrors/NAME/change/approve` and `/refuse`.
pub async fn decide_form(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let approve = verb_of(&verb)?;
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "reason"]).await?;
        decide(
            &c,
            &who,
            &name,
            approve,
            fields.get("reason").map(String::as_str),
            "page",
        )
        .await
    };
    match result.await {
        Ok(()) => see(&name),
        Err(r) => r.into_response(false),
    }
}

/// `POST /api/v1/mirrors/NAME/change/approve` and `/refuse` (`{"reason": …}`).
pub async fn decide_api(
    State(c): State<Control>,
    Path((name, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let approve = verb_of(&verb)?;
        let (who, map) = request::signed_json(&c, &headers, body, &["reason"]).await?;
        decide(
            &c,
            &who,
            &name,
            approve,
            map.get("reason").and_then(|v| v.as_str()),
            "api",
        )
        .await
    };
    match result.await {
        Ok(()) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "name": name, "approved": verb == "approve" }),
        ),
        Err(r) => r.into_response(true),
    }
}

/// `POST /mirrors/NAME/delete` (`confirm` = its name).
pub async fn delete_form(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, fields) = request::signed_form(&c, &headers, body, &["csrf", "confirm"]).await?;
        delete(
            &c,
            &who,
            &name,
            fields.get("confirm").map(String::as_str),
            "page",
        )
        .await
    };
    match result.await {
        Ok(()) => web::see_other("/"),
        Err(r) => r.into_response(false),
    }
}

/// `POST /api/v1/mirrors/NAME/delete` (`{"confirm": NAME}`).
pub async fn delete_api(
    State(c): State<Control>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (who, map) = request::signed_json(&c, &headers, body, &["confirm"]).await?;
        delete(
            &c,
            &who,
            &name,
            map.get("confirm").and_then(|v| v.as_str()),
            "api",
        )
        .await
    };
    match result.await {
        Ok(()) => web::json(
            StatusCode::OK,
            &serde_json::json!({ "name": name, "deleted": true }),
        ),
        Err(r) => r.into_response(true),
    }
}
