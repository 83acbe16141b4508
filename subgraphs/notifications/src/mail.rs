//! E-mail through lettre over SMTP (`SMTP_URL`, `SMTP_FROM`): a plain-text
//! and an HTML part, and a Message-ID derived from the delivery's
//! idempotency key, so any resend of the same reminder is recognisably the
//! same message.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// One message to one person.
pub struct Outgoing<'a> {
    pub to_email: &'a str,
    pub to_name: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub idempotency_key: &'a str,
}

/// Why a message did not go.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused for good (a 5xx answer, an address that does not parse): no retry helps.
    #[error("refused: {0}")]
    Permanent(String),
    /// Not accepted this time (unreachable, 4xx): retried later.
    #[error("not accepted: {0}")]
    Transient(String),
    /// No answer in time: the server may have accepted it, so it is not
    /// sent again.
    #[error("no answer: {0}")]
    Unknown(String),
}

/// A short stable token of the delivery with this key (32 hex digits): the
/// SMS provider's idempotency token, and the local part of the Message-ID.
pub fn delivery_token(idempotency_key: &str) -> String {
    Sha256::digest(idempotency_key.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The Message-ID of the delivery with this key.
pub fn message_id(idempotency_key: &str) -> String {
    format!("<{}@notifications.jobtracker>", delivery_token(idempotency_key))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Mailer {
    /// `smtp_url`: `smtp://host:port` (plain, e.g. MailDev), `smtp://…?tls=required`
    /// (STARTTLS) or `smtps://` (TLS), credentials in the URL.
    pub fn new(smtp_url: &str, from: &str, timeout: Duration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|err| anyhow::anyhow!("SMTP_URL is not an SMTP URL: {err}"))?
            .timeout(Some(timeout))
            .build();
        let from = from.parse().map_err(|err| anyhow::anyhow!("SMTP_FROM {from:?} is not a mailbox: {err}"))?;
        Ok(Self { transport, from })
    }

    pub async fn send(&self, outgoing: &Outgoing<'_>) -> Result<(), SendError> {
        let to = Mailbox::new(
            Some(outgoing.to_name.to_string()),
            outgoing.to_email.parse().map_err(|err| SendError::Permanent(format!("recipient address: {err}")))?,
        );
        let html = format!(
            "<!doctype html><html><body><h2>{}</h2><p>{}</p><p style=\"color:#666\">Jobtracker</p></body></html>",
            escape_html(outgoing.subject),
            escape_html(outgoing.text)
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(outgoing.subject)
            .message_id(Some(message_id(outgoing.idempotency_key)))
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(outgoing.text.to_string(), html))
            .map_err(|err| SendError::Permanent(format!("building the message: {err}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(SendError::Permanent(err.to_string())),
            Err(err) if err.is_timeout() => Err(SendError::Unknown(err.to_string())),
            Err(err) => Err(SendError::Transient(err.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delivery_one_message_id() {
        assert_eq!(message_id("reminder:a:1:60:EMAIL"), message_id("reminder:a:1:60:EMAIL"));
        assert_ne!(message_id("reminder:a:1:60:EMAIL"), message_id("reminder:a:1:1440:EMAIL"));
        assert!(message_id("k").ends_with("@notifications.jobtracker>"));
        assert_eq!(escape_html("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
