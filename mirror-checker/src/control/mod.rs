//! The operators' control plane (`mirror-checker serve`): operators sign in by a link mailed
//! to a mirror's contact address and see their mirrors with what the public never sees;
//! admins (named in the config or added with `mirror-checker admin add`) see every mirror.
//! Pages (no script; forms work as forms) and a JSON API under `/api/v1/`, on one listener
//! behind the same reverse proxy as the rest. Every secret is stored hashed, every form
//! carries a CSRF token, every handler says who may use it; the rules are in ARCHITECTURE.md.

pub mod commands;
pub mod config;
pub mod mail;
mod mirrors;
mod pages;
mod secret;
mod signin;
mod web;
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
}

impl Control {
    pub fn new(store: Store, config: ControlConfig, listen: SocketAddr) -> Control {
        let public_url = config.public_url(listen).into();
        let mailer = mail::Mailer::folder(config.mail_folder.clone(), config.mail_from.clone());
        Control {
            store,
            config: Arc::new(config),
            public_url,
            mailer,
        }
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
        .route("/mirrors/{name}", get(mirrors::page))
        .route("/api/v1/me", get(mirrors::api_me))
        .route("/api/v1/mirrors", get(mirrors::api_list))
        .route("/api/v1/mirrors/{name}", get(mirrors::api_one))
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
