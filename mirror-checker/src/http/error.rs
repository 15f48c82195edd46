//! Why a fetch failed, in terms an operator can act on, and how hyper's errors map to it.

use super::connect::ConnectError;

/// Why a fetch failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("name resolution failed: {0}")]
    Dns(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("response larger than {0} bytes; cut")]
    TooLarge(u64),
    #[error("body truncated after {0} bytes")]
    Truncated(u64),
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(u32),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("HTTP error: {0}")]
    Protocol(String),
    /// The host resolves (or a redirect leads) to an internal address only.
    #[error("not connected: {0}")]
    Forbidden(String),
}

impl FetchError {
    /// Failures of the transport (the host did not answer properly), as opposed to answers.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            FetchError::Dns(_)
                | FetchError::Connect(_)
                | FetchError::Tls(_)
                | FetchError::Timeout(_)
        )
    }
}

pub(super) fn classify_client_error(e: &hyper_util::client::legacy::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = None;
    while let Some(err) = source {
        if let Some(c) = err.downcast_ref::<ConnectError>() {
            return c.0.clone();
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return FetchError::Protocol("the connection closed before a response".into());
            }
            detail = Some(h.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            detail = Some(io.to_string());
        }
        source = err.source();
    }
    FetchError::Protocol(detail.unwrap_or_else(|| e.to_string()))
}
