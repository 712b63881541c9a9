//! Login attempts per client address. The core locks an account after repeated failures; this
//! stops one address from guessing across many accounts: after [`LIMIT`] failed logins within
//! [`WINDOW`], the address gets 429 with `Retry-After` until its oldest failure leaves the window.
//! Kept in memory per node: a restart forgets it, and each node of a cluster counts its own.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use bulwark_app::error::AppError;

/// Failed logins an address may make within [`WINDOW`].
pub const LIMIT: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Addresses remembered at most; past it the oldest-seen are forgotten first.
const ADDRESSES: usize = 10_000;

const LOGIN_PATH: &str = "/_sfn/login";

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// How long `address` must wait, if it must.
    fn wait(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = failures.get_mut(&address)?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            times.pop_front();
        }
        (times.len() >= LIMIT).then(|| WINDOW - now.duration_since(times[0]))
    }

    fn failed(&self, address: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if failures.len() >= ADDRESSES {
                return; // every slot is busy with a recent guesser: the account lockout still holds
            }
        }
        let times = failures.entry(address).or_default();
        times.push_back(now);
        if times.len() > LIMIT {
            times.pop_front();
        }
    }

    fn succeeded(&self, address: IpAddr) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&address);
    }
}

/// Counts the login form's failures by the caller's address and refuses a busy guesser.
pub async fn logins(State(throttle): State<Arc<LoginThrottle>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() != LOGIN_PATH {
        return next.run(request).await;
    }
    // Without the peer's address (a test calling the router directly) every caller is one.
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let now = Instant::now();
    if let Some(wait) = throttle.wait(address, now) {
        let seconds = wait.as_secs().max(1);
        let error = AppError::RateLimited(format!("too many failed logins from this address: try again in {seconds} s"));
        let mut response = crate::console_access::refusal(LOGIN_PATH, error);
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return response;
    }
    let response = next.run(request).await;
    match response.status() {
        s if s.is_client_error() => throttle.failed(address, now),
        s if s.is_success() || s.is_redirection() => throttle.succeeded(address),
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_after_the_limit_until_its_oldest_failure_ages_out() {
        let throttle = LoginThrottle::default();
        let (a, b) = (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        let start = Instant::now();
        for i in 0..LIMIT {
            assert_eq!(throttle.wait(a, start), None);
            throttle.failed(a, start + Duration::from_secs(i as u64));
        }
        let wait = throttle.wait(a, start + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(20));
        assert_eq!(throttle.wait(b, start), None, "another address is not held up");
        assert_eq!(throttle.wait(a, start + WINDOW + Duration::from_secs(1)), None, "the oldest failure aged out");
        throttle.succeeded(b);
    }
}
