//! E-mail: a plain-text and HTML message through the channel's SMTP server (lettre), over
//! STARTTLS, implicit TLS or, where the administrator chose it, plain SMTP.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{ChannelSettings, SmtpSecurity};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to send, from a channel's settings and its opened password.
pub struct Smtp<'a> {
    pub settings: &'a ChannelSettings,
    pub password: Option<&'a str>,
}

/// What one message came to: the server's reply code, or why it was not taken.
#[derive(Debug)]
pub struct Sent {
    pub code: Option<u16>,
    pub error: Option<String>,
}

/// The port each kind of security listens on unless the channel names one.
pub fn default_port(security: SmtpSecurity) -> u16 {
    match security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    }
}

impl Smtp<'_> {
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let host = self.settings.smtp_host.clone().unwrap_or_default();
        let security = self.settings.smtp_security.unwrap_or(SmtpSecurity::Starttls);
        let port = self.settings.smtp_port.unwrap_or_else(|| default_port(security));
        let tls = || -> Result<TlsParameters, String> {
            let mut params = TlsParameters::builder(host.clone());
            if let Some(pem) = self.settings.ca_certificate.as_deref().filter(|p| !p.trim().is_empty()) {
                params = params.add_root_certificate(Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("caCertificate: not a PEM certificate ({e})"))?);
            }
            params.build().map_err(|e| format!("TLS settings for {host}: {e}"))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()).port(port).timeout(Some(TIMEOUT));
        builder = match security {
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => builder.tls(Tls::None),
        };
        if let Some(user) = self.settings.smtp_username.as_deref().filter(|u| !u.is_empty()) {
            builder = builder.credentials(Credentials::new(user.to_string(), self.password.unwrap_or_default().to_string()));
        }
        Ok(builder.build())
    }

    /// Connects, says hello, upgrades and logs in as a message would, and sends nothing: an
    /// e-mail channel is saved only when its server answers.
    pub async fn check(&self) -> Result<(), String> {
        let transport = self.transport()?;
        match transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("the SMTP server {} did not accept a connection", self.server())),
            Err(e) => Err(format!("the SMTP server {} refused: {}", self.server(), crate::error::chain(&e))),
        }
    }

    /// Sends one message with `title` as its subject, `text` as its plain part and its
    /// escaped copy as the HTML part.
    pub async fn send(&self, title: &str, text: &str, html: &str) -> Sent {
        let message = match self.message(title, text, html) {
            Ok(m) => m,
            Err(e) => return Sent { code: None, error: Some(e) },
        };
        let transport = match self.transport() {
            Ok(t) => t,
            Err(e) => return Sent { code: None, error: Some(e) },
        };
        match transport.send(message).await {
            Ok(reply) => Sent { code: reply.code().to_string().parse().ok(), error: None },
            Err(e) => Sent { code: e.status().and_then(|c| c.to_string().parse().ok()), error: Some(format!("the SMTP server {} refused: {}", self.server(), crate::error::chain(&e))) },
        }
    }

    fn message(&self, title: &str, text: &str, html: &str) -> Result<Message, String> {
        let from: Mailbox = self.settings.from.as_deref().unwrap_or_default().parse().map_err(|e| format!("from: {e}"))?;
        let mut builder = Message::builder().from(from).subject(title);
        for to in &self.settings.to {
            builder = builder.to(to.parse::<Mailbox>().map_err(|e| format!("to {to:?}: {e}"))?);
        }
        builder.multipart(MultiPart::alternative_plain_html(text.to_string(), html.to_string())).map_err(|e| format!("the message could not be built: {e}"))
    }

    fn server(&self) -> String {
        let security = self.settings.smtp_security.unwrap_or(SmtpSecurity::Starttls);
        format!("{}:{}", self.settings.smtp_host.as_deref().unwrap_or_default(), self.settings.smtp_port.unwrap_or_else(|| default_port(security)))
    }
}

