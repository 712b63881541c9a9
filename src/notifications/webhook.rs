//! The webhook: the delivery's JSON body POSTed to the channel's address, signed so the receiver
//! knows it came from this server and is fresh.
//!
//! Headers: `X-Bulwark-Event`, `X-Bulwark-Delivery` (the same on every attempt of one delivery:
//! a receiver drops repeats by it), `X-Bulwark-Timestamp` (Unix seconds of this attempt) and
//! `X-Bulwark-Signature: v1=<hex>`, the HMAC-SHA256 under the channel's signing secret of
//! `<timestamp>.<body>`. A receiver recomputes it, compares in constant time and refuses a
//! timestamp more than five minutes from its clock (docs/OPERATIONS.md shows one in Python).

use std::sync::OnceLock;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// An answer that arrives later than this is a failed attempt.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What one POST came to.
#[derive(Debug)]
pub struct Sent {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Sent {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// `v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A redirect would send the signed body somewhere the administrator did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Bulwark/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook client's settings are valid")
    })
}

/// POSTs `body` to `url`; any answer but 2xx is a failure, with its status and a little of what
/// the receiver said.
pub async fn post(url: &str, secret: &str, event: &str, delivery_id: &str, body: &str) -> Sent {
    let timestamp = chrono::Utc::now().timestamp();
    let sent = client()
        .post(url)
        .header("content-type", "application/json")
        .header("x-bulwark-event", event)
        .header("x-bulwark-delivery", delivery_id)
        .header("x-bulwark-timestamp", timestamp.to_string())
        .header("x-bulwark-signature", signature(secret, timestamp, body.as_bytes()))
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Err(e) => Sent { status: None, error: Some(describe(&e)) },
        Ok(answer) if answer.status().is_success() => Sent { status: Some(answer.status().as_u16()), error: None },
        Ok(mut answer) => {
            let status = answer.status();
            // A little of what the receiver said, read no further than that.
            let mut body = Vec::new();
            while body.len() < 1024 {
                match answer.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            let said: String = String::from_utf8_lossy(&body).chars().filter(|c| !c.is_control()).take(200).collect();
            Sent { status: Some(status.as_u16()), error: Some(format!("the receiver answered {status}{}", if said.is_empty() { String::new() } else { format!(": {said}") })) }
        }
    }
}

/// A sentence for a request that got no answer (reqwest's outer message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer within 10 s"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() { what.to_string() } else { format!("{what}: {cause}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(signature("secret", 1_700_000_000, br#"{"a":1}"#), "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686");
    }
}
