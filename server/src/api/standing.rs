//! The caller of a long-lived answer (an event stream), checked again as it goes: a stream
//! authenticated once used to keep streaming after its token was revoked, its user disabled, or
//! its browser session ended (logged out, expired, or every session dropped by a password
//! change).

use std::time::{Duration, Instant};

use bulwark_core::platform::accounts::tokens;
use bulwark_core::platform::auth::Principal;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::sessions;
use tower_sessions::Session;

/// How often a stream's caller is looked at again.
const RECHECK: Duration = Duration::from_secs(10);

pub struct Standing {
    principal: Principal,
    /// The browser session the caller came with (none for a bearer token).
    session: Option<String>,
    next: Instant,
}

impl Standing {
    pub fn of(principal: &Principal, session: &Session) -> Standing {
        let session = principal.token_id.is_none().then(|| session.id().map(|id| id.to_string())).flatten();
        Standing { principal: principal.clone(), session, next: Instant::now() + RECHECK }
    }

    /// False once the caller may no longer act as it did (the stream ends). A catalog that does
    /// not answer for a moment ends nothing: it is asked again at the next check.
    pub async fn holds(&mut self, catalog: &Catalog) -> bool {
        if Instant::now() < self.next {
            return true;
        }
        self.next = Instant::now() + RECHECK;
        if let Some(id) = &self.session {
            match sessions::load(catalog, id).await {
                Ok(Some(row)) if row.user_id.as_deref() == Some(self.principal.user_id.as_str()) => {}
                Ok(_) => return false,
                Err(_) => return true,
            }
        }
        tokens::still_valid(catalog, &self.principal).await.unwrap_or(true)
    }
}
