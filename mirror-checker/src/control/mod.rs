//! The operators' control plane (`mirror-checker serve`): operators sign in by a link mailed
//! to a mirror's contact address and see their mirrors with what the public never sees;
//! admins (named in the config or added with `mirror-checker admin add`) see every mirror.
//! Pages (no script; forms work as forms) and a JSON API under `/api/v1/`, on one listener
//! behind the same reverse proxy as the rest. Every secret is stored hashed, every form
//! carries a CSRF token, every handler says who may use it; the rules are in ARCHITECTURE.md.

mod admin;
pub mod commands;
pub mod config;
mod edit;
mod edit_routes;
mod hold;
pub mod mail;
pub mod maintenance;
mod mirrors;
pub mod ownership;
mod pages;
pub mod proof;
mod register;
mod registration;
mod request;
pub(crate) mod secret;
mod signin;
mod smtp;
mod tokens;
mod unsubscribe;
mod web;
mod webhook;
mod who;

#[cfg(test)]
mod tests;

use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;

pub use config::ControlConfig;

/// What every handler shares.
#[derive(Clone)]
pub struct Control {
    store: Store,
    config: Arc<ControlConfig>,
    /// The public address, no trailing slash.
    public_url: Arc<str>,
    mailer: mail::Mailer,
    /// What registrations are judged by: the registry's rules.
    rules: Arc<shared::registry::Rules>,
    /// The crawl's client (its limits, its no-internal-address rule) for ownership proofs.
    client: crate::http::HttpClient,
    /// The reverse proxies whose word is taken for the client's address.
    trusted: Arc<Vec<shared::proxy::TrustedProxy>>,
}

impl Control {
    /// The control plane over `store`, judging registrations by `rules` and proving them
    /// with a client of `http`'s settings.
    pub fn new(
        store: Store,
        control: ControlConfig,
        rules: shared::registry::Rules,
        http: crate::http::HttpConfig,
        listen: SocketAddr,
    ) -> crate::Result<Control> {
        let public_url = control.public_url(listen).into();
        let mailer = mail::Mailer::of(&control).map_err(crate::error::Error::Config)?;
        let trusted = control
            .trusted_proxies
            .iter()
            .map(|t| shared::proxy::parse_trusted(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::error::Error::Config(format!("[control] trusted_proxies: {e}")))?;
        Ok(Control {
            store,
            config: Arc::new(control),
            public_url,
            mailer,
            rules: Arc::new(rules),
            client: crate::http::HttpClient::new(http)?,
            trusted: Arc::new(trusted),
        })
    }

    /// Cookies get `Secure` (and the `__Host-` prefix) when people reach this over https.
    fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Whether `address` is an admin: named in the config, or added to the store.
    async fn is_admin(&self, address: &str) -> store::Result<bool> {
        if self
            .config
            .admins
            .iter()
            .any(|a| a.eq_ignore_ascii_case(address))
        {
            return Ok(true);
        }
        Ok(self
            .store
            .stored_admins()
            .await?
            .iter()
            .any(|a| a == address))
    }
}

/// Every route, each handler checking who may use it.
pub fn router(control: Control) -> axum::Router {
    axum::Router::new()
        .route("/", get(signin::home))
        .route("/signin", post(signin::request))
        .route("/signin/{token}", get(signin::confirm).post(signin::follow))
        .route("/signout", post(signin::signout))
        .route(
            "/register",
            get(register::form_page).post(register::form_post),
        )
        .route("/registrations/{name}", get(registration::page))
        .route(
            "/registrations/{name}/prove",
            post(registration::prove_form),
        )
        .route(
            "/registrations/{name}/{verb}",
            post(registration::decide_form),
        )
        .route("/mirrors/{name}", get(mirrors::page))
        .route(
            "/mirrors/{name}/edit",
            get(edit_routes::edit_page).post(edit_routes::edit_form),
        )
        .route("/mirrors/{name}/delete", post(edit_routes::delete_form))
        .route("/mirrors/{name}/admin/{verb}", post(hold::form))
        .route(
            "/mirrors/{name}/change/{verb}",
            post(edit_routes::decide_form),
        )
        .route("/mirrors/{name}/maintenance", post(maintenance::add_form))
        .route(
            "/mirrors/{name}/maintenance/{id}",
            post(maintenance::window_form),
        )
        .route(
            "/mirrors/{name}/maintenance/{id}/{verb}",
            post(maintenance::window_form),
        )
        .route("/mirrors/{name}/subscribe", post(unsubscribe::subscribe))
        .route("/mirrors/{name}/webhook", post(webhook::set_form))
        .route("/mirrors/{name}/webhook/remove", post(webhook::remove_form))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe::page).post(unsubscribe::one_click),
        )
        .route("/mirrors/{name}/tokens", post(tokens::create_form))
        .route(
            "/mirrors/{name}/tokens/{id}/revoke",
            post(tokens::revoke_form),
        )
        .route("/mirrors/{name}/{verb}", post(mirrors::switch_form))
        .route("/admin", get(admin::queue))
        .route("/admin/audit", get(admin::audit_page))
        .route("/api/v1/me", get(mirrors::api_me))
        .route("/api/v1/mirrors", get(mirrors::api_list))
        .route("/api/v1/mirrors/{name}", get(mirrors::api_one))
        .route("/api/v1/mirrors/{name}/edit", post(edit_routes::edit_api))
        .route(
            "/api/v1/mirrors/{name}/delete",
            post(edit_routes::delete_api),
        )
        .route("/api/v1/mirrors/{name}/admin/{verb}", post(hold::api))
        .route(
            "/api/v1/mirrors/{name}/change/{verb}",
            post(edit_routes::decide_api),
        )
        .route(
            "/api/v1/mirrors/{name}/maintenance",
            get(maintenance::api_list).post(maintenance::api_add),
        )
        .route(
            "/api/v1/mirrors/{name}/maintenance/{id}",
            post(maintenance::api_window),
        )
        .route(
            "/api/v1/mirrors/{name}/maintenance/{id}/{verb}",
            post(maintenance::api_window),
        )
        .route(
            "/api/v1/mirrors/{name}/webhook",
            get(webhook::api_get).post(webhook::api_set),
        )
        .route(
            "/api/v1/mirrors/{name}/webhook/remove",
            post(webhook::api_remove),
        )
        .route(
            "/api/v1/mirrors/{name}/tokens",
            get(tokens::api_list).post(tokens::api_create),
        )
        .route(
            "/api/v1/mirrors/{name}/tokens/{id}/revoke",
            post(tokens::api_revoke),
        )
        .route("/api/v1/mirrors/{name}/{verb}", post(mirrors::switch_api))
        .route(
            "/api/v1/registrations",
            get(registration::api_list).post(registration::api_create),
        )
        .route("/api/v1/registrations/{name}", get(registration::api_one))
        .route(
            "/api/v1/registrations/{name}/prove",
            post(registration::prove_api),
        )
        .route(
            "/api/v1/registrations/{name}/{verb}",
            post(registration::decide_api),
        )
        .route("/api/v1/audit", get(admin::audit_api))
        .route("/api/v1/openapi.json", get(mirrors::openapi))
        .fallback(web::not_found)
        .with_state(control)
}

/// Serves the control plane on `listen` until `shutdown`, with the listeners' deadlines and
/// connection cap.
pub async fn serve(
    control: Control,
    listener: tokio::net::TcpListener,
    limits: listen::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    listen::http1::serve(listener, router(control), limits, "control", shutdown).await;
}
