//! The second factor: time-based one-time codes (RFC 6238: HMAC-SHA1, 30-second steps, six
//! digits, the parameters every authenticator app uses).
//!
//! A user sets one up from a console session (never with an API token), confirms it with a first
//! code, and from then on logs in with password and code. Each code is good for its own step and
//! the ones either side (clocks drift), and once only: the last step accepted is stored and a
//! login needs a later one. The secret is sealed under the server key, bound to its user. An
//! admin can remove another user's second factor (a lost phone); a user removes their own with a
//! current code.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha1::Sha1;

use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;

/// Seconds per code.
const STEP_SECONDS: i64 = 30;
/// 160 bits, RFC 4226's recommended secret length.
const SECRET_BYTES: usize = 20;
/// Shown as the account's issuer in authenticator apps.
const ISSUER: &str = "Bulwark";

/// The code for one time step (RFC 4226's HOTP with the step as counter).
fn code_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    value % 1_000_000
}

fn current_step() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(STEP_SECONDS)
}

/// The step, within one of `now` either side, whose code `typed` is; `None` for a wrong code or
/// one that is not six digits.
fn matching_step(secret: &[u8], typed: &str, now: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let typed: u32 = typed.parse().ok()?;
    (now - 1..=now + 1).find(|&step| code_at(secret, step) == typed)
}

fn context(user_id: &str) -> String {
    format!("user:{user_id}:totp")
}

fn open_secret(secrets: &SecretBox, user_id: &str, sealed: &str) -> Result<Vec<u8>, AuthError> {
    let text = secrets.open(&context(user_id), sealed).map_err(|e| AuthError::Secret(e.to_string()))?;
    BASE32_NOPAD.decode(text.as_bytes()).map_err(|e| AuthError::Secret(e.to_string()))
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

/// What a user needs to add Bulwark to an authenticator app.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
    /// The URI as a QR code, an SVG image.
    pub qr_svg: String,
}

fn sessions_only(actor: &Principal) -> Result<(), AuthError> {
    match actor.token_id {
        Some(_) => Err(AuthError::Invalid("a second factor is set up in the console, never with an API token".into())),
        None => Ok(()),
    }
}

/// Whether the user logs in with a second factor.
pub async fn enabled(catalog: &Catalog, user_id: &str) -> Result<bool, AuthError> {
    let sealed: Option<Option<String>> = sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1").bind(user_id).fetch_optional(catalog.pool()).await?;
    Ok(sealed.flatten().is_some())
}

/// Starts setting up a second factor for the caller: a fresh secret, kept aside until
/// [`confirm`] sees a code made from it. Starting again replaces a secret not yet confirmed.
pub async fn begin(catalog: &Catalog, secrets: &SecretBox, actor: &Principal) -> Result<Enrollment, AuthError> {
    actor.require(Role::Viewer)?;
    sessions_only(actor)?;
    if enabled(catalog, &actor.user_id).await? {
        return Err(AuthError::Conflict("a second factor is already set up: remove it first to replace it".into()));
    }
    let mut secret = [0u8; SECRET_BYTES];
    rand::fill(&mut secret);
    let encoded = BASE32_NOPAD.encode(&secret);
    sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
        .bind(secrets.seal(&context(&actor.user_id), &encoded))
        .bind(&actor.user_id)
        .execute(catalog.pool())
        .await?;
    let label = format!("{ISSUER}:{}", actor.username);
    let uri = format!("otpauth://totp/{}?secret={encoded}&issuer={ISSUER}&algorithm=SHA1&digits=6&period={STEP_SECONDS}", percent_encode(&label));
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AuthError::Secret(e.to_string()))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrollment { secret: encoded, uri, qr_svg })
}

/// Turns the secret from [`begin`] on, once `code` shows the app computes the same codes.
pub async fn confirm(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, code: &str) -> Result<(), AuthError> {
    actor.require(Role::Viewer)?;
    sessions_only(actor)?;
    let pending: Option<Option<String>> = sqlx::query_scalar("SELECT totp_pending FROM users WHERE id = $1").bind(&actor.user_id).fetch_optional(catalog.pool()).await?;
    let Some(sealed) = pending.flatten() else {
        return Err(AuthError::Conflict("no second factor is being set up: start again".into()));
    };
    let secret = open_secret(secrets, &actor.user_id, &sealed)?;
    let step = matching_step(&secret, code, current_step()).ok_or_else(|| AuthError::Invalid("code: not the app's current code; check the phone's clock and try the next one".into()))?;
    let changed = sqlx::query("UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1 WHERE id = $2 AND totp_pending = $3")
        .bind(step)
        .bind(&actor.user_id)
        .bind(&sealed)
        .execute(catalog.pool())
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(AuthError::Conflict("the setup changed meanwhile: start again".into()));
    }
    record(catalog, actor, &actor.user_id, "user.second_factor.enable").await
}

/// Removes a second factor: the user's own with a current code, or anyone's by an admin (who
/// cannot use it to skip their own).
pub async fn remove(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, user_id: &str, code: Option<&str>) -> Result<(), AuthError> {
    actor.require(Role::Viewer)?;
    sessions_only(actor)?;
    if user_id == actor.user_id {
        let sealed: Option<Option<String>> = sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1").bind(user_id).fetch_optional(catalog.pool()).await?;
        let Some(sealed) = sealed.flatten() else {
            return Err(AuthError::Conflict("no second factor is set up".into()));
        };
        if !accept(catalog, &open_secret(secrets, user_id, &sealed)?, user_id, code.unwrap_or("")).await? {
            return Err(AuthError::Invalid("code: wrong or already used".into()));
        }
    } else {
        actor.require(Role::Admin)?;
    }
    let changed = sqlx::query("UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = $1")
        .bind(user_id)
        .execute(catalog.pool())
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(AuthError::NotFound(format!("user {user_id}")));
    }
    record(catalog, actor, user_id, "user.second_factor.remove").await
}

/// Checks a fresh code of `user_id`'s second factor for a sensitive action (approving a
/// restore) and uses it up, as a login does: true only for a code not used before.
/// Wrong codes count towards the account's lockout as wrong logins do (six digits fall to
/// guessing otherwise); a locked account confirms nothing.
pub async fn confirm_action(catalog: &Catalog, secrets: &SecretBox, user_id: &str, code: &str) -> Result<bool, AuthError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT totp_secret, locked_until FROM users WHERE id = $1").bind(user_id).fetch_optional(catalog.pool()).await?;
    let Some((sealed, locked_until)) = row else {
        return Err(AuthError::NotFound(format!("user {user_id}")));
    };
    let Some(sealed) = sealed else {
        return Err(AuthError::Conflict("no second factor is set up: enrol one in Account first".into()));
    };
    if locked_until.as_deref().is_some_and(|until| until > crate::platform::time::now_text().as_str()) {
        return Ok(false);
    }
    let accepted = accept(catalog, &open_secret(secrets, user_id, &sealed)?, user_id, code).await?;
    if !accepted {
        super::users::count_failure(catalog, user_id).await?;
    }
    Ok(accepted)
}

/// Checks a fresh code of `approver_id`'s second factor, given by `requester_id` on the
/// approver's behalf (a sign-off read over the phone), and uses it up. A wrong code counts
/// towards the requester's lockout, not the approver's: a requester cannot lock approvers out
/// by guessing. Every refusal is the same `false`, so nobody learns who has a second factor.
pub async fn confirm_for(catalog: &Catalog, secrets: &SecretBox, approver_id: &str, requester_id: &str, code: &str) -> Result<bool, AuthError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT totp_secret, locked_until FROM users WHERE id = $1").bind(approver_id).fetch_optional(catalog.pool()).await?;
    let now = crate::platform::time::now_text();
    let accepted = match row {
        Some((Some(sealed), locked_until)) if locked_until.as_deref().is_none_or(|until| until <= now.as_str()) => {
            accept(catalog, &open_secret(secrets, approver_id, &sealed)?, approver_id, code).await?
        }
        _ => false,
    };
    if !accepted {
        super::users::count_failure(catalog, requester_id).await?;
    }
    Ok(accepted)
}

/// Checks a login's code against the user's secret and uses it up: true only for a code of a step
/// later than the last one accepted (the update is conditional, so two logins racing with one
/// code cannot both pass).
pub(super) async fn check_login(catalog: &Catalog, secrets: &SecretBox, user_id: &str, sealed: &str, code: &str) -> Result<bool, AuthError> {
    accept(catalog, &open_secret(secrets, user_id, sealed)?, user_id, code).await
}

async fn accept(catalog: &Catalog, secret: &[u8], user_id: &str, code: &str) -> Result<bool, AuthError> {
    let Some(step) = matching_step(secret, code, current_step()) else {
        return Ok(false);
    };
    let used = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
        .bind(step)
        .bind(user_id)
        .execute(catalog.pool())
        .await?
        .rows_affected();
    Ok(used == 1)
}

async fn record(catalog: &Catalog, actor: &Principal, user_id: &str, action: &str) -> Result<(), AuthError> {
    let entry = Entry { actor: &Actor::from(actor), action, target_type: "user", target_id: Some(user_id), detail: serde_json::json!({}) };
    audit::record(catalog, entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (eight digits there; the last six are ours).
    #[test]
    fn codes_match_the_rfc() {
        let secret = b"12345678901234567890";
        for (time, code) in [(59, 94287082), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)] {
            assert_eq!(code_at(secret, time / STEP_SECONDS), code % 1_000_000, "at {time}");
        }
    }

    #[test]
    fn a_code_is_good_one_step_either_side_only() {
        let secret = b"12345678901234567890";
        let now = 1111111111 / STEP_SECONDS;
        let typed = format!("{:06}", code_at(secret, now));
        assert_eq!(matching_step(secret, &typed, now), Some(now));
        assert_eq!(matching_step(secret, &typed, now + 1), Some(now));
        assert_eq!(matching_step(secret, &typed, now - 1), Some(now));
        assert_eq!(matching_step(secret, &typed, now + 2), None);
        assert_eq!(matching_step(secret, &format!("{} {}", &typed[..3], &typed[3..]), now), Some(now), "spaces as apps show them");
        for wrong in ["", "12345", "1234567", "abcdef", "-12345"] {
            assert_eq!(matching_step(secret, wrong, now), None, "{wrong}");
        }
    }
}
