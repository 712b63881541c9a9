//! Addresses Bulwark calls out to on a person's word (a probed service, a webhook): checked the
//! same way wherever they are typed, with the sentence naming the field.

/// `text` as an http(s) address with a host and no credentials, at most 2,000 characters;
/// otherwise a sentence about `settings.url`. `called` says what the address is for ("a
/// webhook is called"); `no_credentials` why it may carry no user name or password.
pub fn http_url(text: &str, called: &str, no_credentials: &str) -> Result<String, String> {
    let text = text.trim();
    let url = url::Url::parse(text).map_err(|e| format!("settings.url: not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("settings.url: {called} over http:// or https://, not {}://", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("settings.url: the address needs a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("settings.url: no user name or password in the address{no_credentials}"));
    }
    if text.len() > 2000 {
        return Err("settings.url: at most 2,000 characters".into());
    }
    Ok(url.to_string())
}
