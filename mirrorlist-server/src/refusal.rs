//! What every step of a request may name: the endpoint asked for, and the refusal (the one
//! type for every client mistake). A leaf: it imports no step, so each step may use it.

use http::StatusCode;

/// The two documents dnf asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Metalink,
    Mirrorlist,
}

impl Endpoint {
    pub const ALL: [Endpoint; 2] = [Endpoint::Metalink, Endpoint::Mirrorlist];

    /// Its name in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Metalink => "metalink",
            Endpoint::Mirrorlist => "mirrorlist",
        }
    }
}

/// Why a request is not answered with mirrors: the one type for every client mistake, turned
/// into an answer in one place ([`crate::respond::refusal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// What the client did wrong and what to do instead; may span lines.
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, message)
    }
}
