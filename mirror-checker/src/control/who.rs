//! Who is signed in: what the pages and the handlers both speak of.

use super::secret;

/// Who is signed in on this request.
#[derive(Debug, Clone)]
pub struct Who {
    pub address: String,
    /// The session's id as the cookie holds it (never stored): what its CSRF token comes from.
    pub session_id: String,
    pub admin: bool,
}

impl Who {
    pub fn csrf(&self) -> String {
        secret::csrf_of(&self.session_id)
    }
}
