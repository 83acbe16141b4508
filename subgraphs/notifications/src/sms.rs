//! SMS behind one trait: an HTTP provider that speaks Twilio's Messages API
//! (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, a form body, basic
//! auth, and an `I-Twilio-Idempotency-Token` derived from the delivery, so a
//! provider that honours it sends a retried request once), and a log
//! provider (the default) that writes the message to the log instead.

use std::time::Duration;

use async_trait::async_trait;

use crate::mail::SendError;

#[async_trait]
pub trait SmsProvider: Send + Sync {
    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SendError>;
}

/// Writes each message to the log: for development, where no provider is set up.
pub struct LogSms;

#[async_trait]
impl SmsProvider for LogSms {
    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SendError> {
        tracing::info!(to, body, idempotency_key, "SMS (log provider)");
        Ok(())
    }
}

/// Twilio, or any server speaking its Messages API.
pub struct TwilioSms {
    http: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

impl TwilioSms {
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        from: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let url = format!("{}/2010-04-01/Accounts/{account_sid}/Messages.json", base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            url,
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            from: from.to_string(),
        })
    }
}

#[async_trait]
impl SmsProvider for TwilioSms {
    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SendError> {
        let answer = self
            .http
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("I-Twilio-Idempotency-Token", crate::mail::delivery_token(idempotency_key))
            .form(&[("To", to), ("From", self.from.as_str()), ("Body", body)])
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return Err(SendError::Unknown(err.to_string())),
            Err(err) => return Err(SendError::Transient(err.to_string())),
        };
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::Transient(format!("HTTP {status}")))
        } else {
            Err(SendError::Permanent(format!("HTTP {status}: {}", response.text().await.unwrap_or_default())))
        }
    }
}
