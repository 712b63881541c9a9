use bulwark_core::platform::accounts::setup::{self, LinkPurpose};
use bulwark_core::platform::accounts::tokens::{self, NewToken};
use bulwark_core::platform::accounts::users::{self, NewUser, UserUpdate};
use bulwark_core::platform::accounts::totp;
use bulwark_core::platform::auth::{AuthError, Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::platform::secrets::SecretBox;

use crate::{app_code, on_both_catalogs, user};

on_both_catalogs!(
    first_admin_comes_from_a_one_time_link,
    login_checks_password_and_locks_out,
    roles_are_enforced_in_the_core,
    last_admin_cannot_be_removed,
    api_tokens_are_hashed_capped_and_revocable,
    password_link_for_cli_user_without_password,
    second_factor_guards_logins,
);

/// A login with a password only (no second factor is set up, so the server key plays no part).
async fn login(catalog: &Catalog, name: &str, password: &str) -> Result<Principal, AuthError> {
    users::authenticate(catalog, &SecretBox::new(Key::random()), name, password, None).await
}


async fn second_factor_guards_logins(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let carol = user(&catalog, "carol", Role::Operator).await;
    // One instant for every code: confirming uses its step, the login after it the next one.
    let t = chrono::Utc::now().timestamp();

    // Not with a token, and not on until a first code confirms the app has the secret.
    let token = Principal { token_id: Some("t".into()), ..carol.clone() };
    assert_eq!(totp::begin(&catalog, &secrets, &token).await.unwrap_err().kind(), Kind::Invalid);
    let enrollment = totp::begin(&catalog, &secrets, &carol).await.unwrap();
    assert!(enrollment.uri.starts_with("otpauth://totp/Bulwark%3Acarol?secret=") && enrollment.qr_svg.contains("<svg"), "{}", enrollment.uri);
    let stored: Option<String> = sqlx::query_scalar("SELECT totp_pending FROM users WHERE username = 'carol'").fetch_one(catalog.pool()).await.unwrap();
    assert!(!stored.unwrap().contains(&enrollment.secret), "sealed, not stored in clear");
    assert!(users::authenticate(&catalog, &secrets, "carol", "carol-password-123", None).await.is_ok(), "off until confirmed");
    assert_eq!(totp::confirm(&catalog, &secrets, &carol, "000000x").await.unwrap_err().kind(), Kind::Invalid);
    totp::confirm(&catalog, &secrets, &carol, &app_code(&enrollment.secret, t)).await.unwrap();
    assert!(totp::enabled(&catalog, &carol.user_id).await.unwrap());

    // The password alone no longer logs in, and does not count as a failure.
    let asked = users::authenticate(&catalog, &secrets, "carol", "carol-password-123", None).await.unwrap_err();
    assert!(matches!(asked, AuthError::SecondFactorNeeded), "{asked:?}");
    let wrong_password = users::authenticate(&catalog, &secrets, "carol", "not her password", Some(&app_code(&enrollment.secret, t + 30))).await;
    assert!(matches!(wrong_password, Err(AuthError::BadCredentials)), "a code never stands in for the password");
    // The confirming code is used up; a wrong code counts towards the lockout.
    let replayed = users::authenticate(&catalog, &secrets, "carol", "carol-password-123", Some(&app_code(&enrollment.secret, t))).await;
    assert!(matches!(replayed, Err(AuthError::WrongCode)), "{replayed:?}");
    let failed: i64 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE username = 'carol'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(failed, 2, "the wrong password and the replayed code");
    // The next step's code logs in (once).
    let next = app_code(&enrollment.secret, t + 30);
    let p = users::authenticate(&catalog, &secrets, "carol", "carol-password-123", Some(&next)).await.unwrap();
    assert_eq!(p.user_id, carol.user_id);
    assert!(matches!(users::authenticate(&catalog, &secrets, "carol", "carol-password-123", Some(&next)).await, Err(AuthError::WrongCode)));
    assert_eq!(totp::begin(&catalog, &secrets, &carol).await.unwrap_err().kind(), Kind::Conflict, "one at a time");

    // Her phone is lost: another operator cannot remove it, an admin can, and it is audited.
    let other = user(&catalog, "dave", Role::Operator).await;
    assert_eq!(totp::remove(&catalog, &secrets, &other, &carol.user_id, None).await.unwrap_err().kind(), Kind::Forbidden);
    totp::remove(&catalog, &secrets, &admin, &carol.user_id, None).await.unwrap();
    assert!(users::authenticate(&catalog, &secrets, "carol", "carol-password-123", None).await.is_ok());
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('user.second_factor.enable', 'user.second_factor.remove')").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(audited, 2);
    let list = users::list(&catalog, &admin).await.unwrap();
    assert!(list.iter().all(|u| u.has_second_factor == 0));
}

async fn first_admin_comes_from_a_one_time_link(catalog: Catalog) {
    let first = setup::first_admin_link(&catalog).await.unwrap().expect("no users yet: a link");
    // A restart issues a new link; the old one stops working.
    let link = setup::first_admin_link(&catalog).await.unwrap().unwrap();
    assert!(setup::inspect(&catalog, &first).await.is_err());
    assert_eq!(setup::inspect(&catalog, &link).await.unwrap(), LinkPurpose::FirstAdmin);

    // Bad input does not burn the link.
    let short = setup::redeem(&catalog, &link, "root", "short").await.unwrap_err();
    assert_eq!(short.kind(), Kind::Invalid);
    let admin = setup::redeem(&catalog, &link, "root", "a long enough password").await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(setup::redeem(&catalog, &link, "root2", "a long enough password").await.is_err(), "one-time");
    assert_eq!(setup::first_admin_link(&catalog).await.unwrap(), None, "no link once a user exists");
    let again = login(&catalog, "root", "a long enough password").await.unwrap();
    assert_eq!(again.user_id, admin.user_id);
}

async fn login_checks_password_and_locks_out(catalog: Catalog) {
    user(&catalog, "alice", Role::Operator).await;
    let ok = login(&catalog, "alice", "alice-password-123").await.unwrap();
    assert_eq!((ok.username.as_str(), ok.role), ("alice", Role::Operator));
    assert!(matches!(login(&catalog, "alice", "nope").await, Err(AuthError::BadCredentials)));
    assert!(matches!(login(&catalog, "nobody", "nope").await, Err(AuthError::BadCredentials)));
    for _ in 0..4 {
        let _ = login(&catalog, "alice", "wrong").await;
    }
    // Locked now, even with the right password, and answered like a wrong password, so the
    // answer tells nothing about which names exist.
    let locked = login(&catalog, "alice", "alice-password-123").await.unwrap_err();
    assert!(matches!(locked, AuthError::BadCredentials), "{locked:?}");
    assert_eq!(locked.to_string(), login(&catalog, "nobody", "nope").await.unwrap_err().to_string());

    // Parallel guesses each count (the counter is incremented in the database).
    user(&catalog, "bob", Role::Viewer).await;
    let guesses: Vec<_> = (0..8).map(|_| {
        let catalog = catalog.clone();
        tokio::spawn(async move { login(&catalog, "bob", "wrong guess").await })
    }).collect();
    for guess in guesses {
        assert!(matches!(guess.await.unwrap(), Err(AuthError::BadCredentials)));
    }
    let failed: i64 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE username = 'bob'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(failed, 8, "every parallel guess counted");

    // An oversized name fails like any other, and only a cut-down name reaches the audit log.
    let huge = "x".repeat(100_000);
    assert!(matches!(login(&catalog, &huge, "nope").await, Err(AuthError::BadCredentials)));
    let longest: Option<i64> = sqlx::query_scalar("SELECT MAX(LENGTH(actor_name)) FROM audit_log").fetch_one(catalog.pool()).await.unwrap();
    assert!(longest.unwrap_or(0) <= 64, "{longest:?}");
}

async fn roles_are_enforced_in_the_core(catalog: Catalog) {
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let denied = users::list(&catalog, &viewer).await.unwrap_err();
    assert_eq!(denied.kind(), Kind::Forbidden);
    let new = NewUser { username: "eve".into(), password: Some("eve-password-123".into()), role: Role::Admin };
    assert_eq!(users::create(&catalog, &viewer, new.clone()).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(users::list(&catalog, &admin).await.unwrap().len(), 2, "nothing was created");
    let eve = users::create(&catalog, &admin, new.clone()).await.unwrap();
    assert_eq!(users::create(&catalog, &admin, new).await.unwrap_err().kind(), Kind::Conflict);
    let bad = NewUser { username: "no spaces".into(), password: None, role: Role::Viewer };
    assert_eq!(users::create(&catalog, &admin, bad).await.unwrap_err().kind(), Kind::Invalid);

    // Disabling logs the user out of the API too.
    users::update(&catalog, &admin, &eve.id, UserUpdate { disabled: Some(true), ..Default::default() }).await.unwrap();
    assert!(matches!(login(&catalog, "eve", "eve-password-123").await, Err(AuthError::Disabled)));
    assert_eq!(users::session_principal(&catalog, &eve.id).await.unwrap(), None);
}

async fn last_admin_cannot_be_removed(catalog: Catalog) {
    let admin = user(&catalog, "admin", Role::Admin).await;
    let other = user(&catalog, "other", Role::Viewer).await;
    let demote = UserUpdate { role: Some(Role::Viewer), ..Default::default() };
    assert_eq!(users::update(&catalog, &admin, &admin.user_id, demote.clone()).await.unwrap_err().kind(), Kind::Invalid);
    assert_eq!(users::delete(&catalog, &admin, &admin.user_id).await.unwrap_err().kind(), Kind::Invalid);
    let promote = UserUpdate { role: Some(Role::Admin), ..Default::default() };
    users::update(&catalog, &admin, &other.user_id, promote).await.unwrap();
    users::update(&catalog, &admin, &admin.user_id, demote).await.unwrap();
    let roles: Vec<Role> = users::list(&catalog, &admin).await.unwrap().into_iter().map(|u| u.role).collect();
    assert_eq!(roles, [Role::Viewer, Role::Admin]);
}

async fn api_tokens_are_hashed_capped_and_revocable(catalog: Catalog) {
    let admin = user(&catalog, "admin", Role::Admin).await;
    let op = user(&catalog, "op", Role::Operator).await;
    let too_strong = NewToken { name: "ci".into(), role: Some(Role::Admin), expires_in_days: None };
    assert_eq!(tokens::create(&catalog, &op, too_strong).await.unwrap_err().kind(), Kind::Invalid);
    let created = tokens::create(&catalog, &op, NewToken { name: "ci".into(), role: Some(Role::Viewer), expires_in_days: Some(30) })
        .await
        .unwrap();
    assert!(created.secret.starts_with("bwk_"));
    assert!(created.secret.starts_with(&created.token.prefix));
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(catalog.pool()).await.unwrap();
    assert!(!stored.contains(&created.secret), "only a digest is stored");

    let p = tokens::authenticate(&catalog, &created.secret).await.unwrap();
    assert_eq!((p.username.as_str(), p.role), ("op", Role::Viewer));
    assert!(tokens::authenticate(&catalog, "bwk_not-a-token").await.is_err());
    assert!(tokens::authenticate(&catalog, "").await.is_err());

    // Others' tokens: admins only.
    assert_eq!(tokens::list(&catalog, &op, true).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(tokens::list(&catalog, &admin, true).await.unwrap().len(), 1);
    assert!(tokens::list(&catalog, &admin, false).await.unwrap().is_empty());
    tokens::revoke(&catalog, &admin, &created.token.id).await.unwrap();
    assert!(matches!(tokens::authenticate(&catalog, &created.secret).await, Err(AuthError::Unauthenticated)));
}

async fn password_link_for_cli_user_without_password(catalog: Catalog) {
    users::create_from_cli(&catalog, NewUser { username: "bob".into(), password: None, role: Role::Approver }).await.unwrap();
    assert!(login(&catalog, "bob", "anything at all").await.is_err());
    let link = setup::password_link(&catalog, "bob").await.unwrap();
    assert_eq!(setup::inspect(&catalog, &link).await.unwrap(), LinkPurpose::SetPassword { username: "bob".into() });
    let p = setup::redeem(&catalog, &link, "ignored", "bob's new password").await.unwrap();
    assert_eq!((p.username.as_str(), p.role), ("bob", Role::Approver));
    login(&catalog, "bob", "bob's new password").await.unwrap();
}
