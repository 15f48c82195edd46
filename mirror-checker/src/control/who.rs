//! Who is signed in: what the pages and the handlers both speak of.

use super::secret;

/// Who is asking on this request: a session's person, or an API token.
#[derive(Debug, Clone)]
pub struct Who {
    /// The person's address (for a token, whoever made it).
    pub address: String,
    /// The session's id as the cookie holds it (never stored): what its CSRF token comes
    /// from. Empty for a token.
    pub session_id: String,
    /// Never for a token, whoever made it.
    pub admin: bool,
    /// The API token asking, when it is one: it acts for its mirror only.
    pub token: Option<Scope>,
}

/// What an API token may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub mirror: String,
    pub name: String,
}

impl Who {
    pub fn csrf(&self) -> String {
        secret::csrf_of(&self.session_id)
    }

    /// What the audit log says this came through: `default` (page, api), or the token.
    pub fn via(&self, default: &str) -> String {
        match &self.token {
            Some(t) => format!("api token {}", t.name),
            None => default.to_string(),
        }
    }

    /// Whether a token limits this to other mirrors than `name`.
    pub fn scoped_away_from(&self, name: &str) -> bool {
        self.token.as_ref().is_some_and(|t| t.mirror != name)
    }
}
