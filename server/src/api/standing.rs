//! The caller of a long-lived answer (an event stream), checked again as it goes: a stream
//! authenticated once used to keep streaming after its token was revoked or its user disabled.

use std::time::{Duration, Instant};

use bulwark_core::platform::accounts::tokens;
use bulwark_core::platform::auth::Principal;
use bulwark_core::platform::catalog::Catalog;

/// How often a stream's caller is looked at again.
const RECHECK: Duration = Duration::from_secs(10);

pub struct Standing {
    principal: Principal,
    next: Instant,
}

impl Standing {
    pub fn of(principal: &Principal) -> Standing {
        Standing { principal: principal.clone(), next: Instant::now() + RECHECK }
    }

    /// False once the caller may no longer act as it did (the stream ends). A catalog that does
    /// not answer for a moment ends nothing: it is asked again at the next check.
    pub async fn holds(&mut self, catalog: &Catalog) -> bool {
        if Instant::now() < self.next {
            return true;
        }
        self.next = Instant::now() + RECHECK;
        tokens::still_valid(catalog, &self.principal).await.unwrap_or(true)
    }
}
