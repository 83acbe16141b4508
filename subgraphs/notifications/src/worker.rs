//! The sender: every `poll`, and when this process's consumer has scheduled
//! something, it delivers what is due by the service's clock,
//! in batches, until nothing due is left; safe with any number of replicas
//! (rows are claimed with SKIP LOCKED). A reminder that fell due while every
//! replica was down goes out at the next start: late, never lost. Done
//! deliveries and read notifications are pruned after the retention period.

use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::mail::{Mailer, Outgoing, SendError};
use crate::model::{Channel, Clock};
use crate::sms::SmsProvider;
use crate::store::{Job, Store};

const BATCH: i64 = 200;
/// E-mails or SMS leased at once by one sender.
const HAND_OVER_BATCH: i64 = 20;
/// Two messages' worth of SMS text at most.
const MAX_SMS_CHARS: usize = 320;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deliveries by channel and outcome: `sent`, `retried` (refused or no
/// address yet, tried again later), `failed` (for good), `unconfirmed` (the
/// server never answered; not sent again), `expired` (the interview had begun).
static SENDS: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    jobtracker_kit::metrics::counter(
        "notifications_deliveries_total",
        "Notification deliveries by channel and outcome.",
        &["service", "channel", "outcome"],
    )
});

/// `channel`: a channel's stored name, or `ALL` for what is settled across channels.
fn count(channel: &str, outcome: &str, deliveries: usize) {
    SENDS.with_label_values(&[crate::SERVICE, channel, outcome]).inc_by(deliveries as u64);
}

pub struct Sender {
    pub store: Store,
    pub clock: Clock,
    pub poll: Duration,
    /// Woken by this process's consumer when it scheduled something.
    pub scheduled: Arc<Notify>,
    pub retention: chrono::Duration,
    pub mail: MailSettings,
    /// `NOTIFICATIONS_FAULT_ABORT_AFTER_HANDOVER`: a fault-injection switch
    /// for the crash test; the process aborts right after handing a message
    /// over, before recording it sent.
    pub abort_after_hand_over: bool,
}

#[derive(Clone)]
pub struct MailSettings {
    pub mailer: Arc<Mailer>,
    pub sms: Arc<dyn SmsProvider>,
    /// How long a sender holds the e-mails it leased; one whose attempt it
    /// recorded and never marked becomes UNCONFIRMED after it.
    pub lease: chrono::Duration,
    /// Attempts before a delivery is FAILED.
    pub max_attempts: i32,
    /// The first retry's wait; each next one doubles it (capped at an hour).
    pub first_retry: chrono::Duration,
}

impl Sender {
    /// Delivers everything due now; how many went.
    pub async fn deliver_due(&self) -> jobtracker_kit::AppResult<usize> {
        let expired = self.store.expire_begun(self.clock.now()).await?;
        if expired > 0 {
            tracing::info!(expired, "reminders of interviews that had begun are not sent");
            count("ALL", "expired", expired);
        }
        let mut sent = 0;
        loop {
            let batch = self.store.deliver_in_app(self.clock.now(), BATCH).await?;
            count(Channel::InApp.as_str(), "sent", batch.len());
            sent += batch.len();
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
        Ok(sent + self.hand_over_due().await?)
    }

    /// Leases due e-mails and SMS and hands each over at most once: the
    /// attempt is recorded before the message goes to the SMTP server or SMS
    /// provider and the row marked SENT after; a refusal is retried with
    /// backoff, then FAILED.
    pub async fn hand_over_due(&self) -> jobtracker_kit::AppResult<usize> {
        let unconfirmed = self.store.settle_unconfirmed(self.clock.now()).await?;
        if unconfirmed > 0 {
            tracing::warn!(unconfirmed, "messages whose sender stopped mid-send are not sent again");
            count("ALL", "unconfirmed", unconfirmed);
        }
        let mut sent = 0;
        for channel in [Channel::Email, Channel::Sms] {
            loop {
                let jobs = self.store.lease(channel, self.clock.now(), self.mail.lease, HAND_OVER_BATCH).await?;
                for job in &jobs {
                    sent += usize::from(self.hand_over(channel, job).await?);
                }
                if (jobs.len() as i64) < HAND_OVER_BATCH {
                    break;
                }
            }
        }
        Ok(sent)
    }

    async fn hand_over(&self, channel: Channel, job: &Job) -> jobtracker_kit::AppResult<bool> {
        let recipient = self.store.recipient(job.owner_id).await?;
        let missing = match &recipient {
            None => Some("no address is known for the user"),
            Some(known) if channel == Channel::Sms && known.phone.is_none() => Some("the user has no phone number"),
            Some(_) => None,
        };
        let (Some(recipient), None) = (recipient, missing) else {
            // The replica may lag a registration or profile change: retried like a refusal.
            let why = missing.unwrap_or_default();
            let retry_at = self.retry_at(job);
            tracing::warn!(delivery_id = %job.id, channel = channel.as_str(), why, retried = retry_at.is_some(), "no address");
            self.attempt_failed(channel, job, why, retry_at).await?;
            return Ok(false);
        };
        let phone = recipient.phone.clone();
        if !self.store.record_attempt(job.id).await? {
            return Ok(false);
        }
        let handed_over = match (channel, phone) {
            (Channel::Sms, Some(phone)) => {
                let text: String = format!("{}: {}", job.title, job.body).chars().take(MAX_SMS_CHARS).collect();
                self.mail.sms.send(&phone, &text, &job.idempotency_key).await
            }
            _ => {
                let outgoing = Outgoing {
                    to_email: &recipient.email,
                    to_name: &recipient.full_name,
                    subject: &job.title,
                    text: &job.body,
                    idempotency_key: &job.idempotency_key,
                };
                self.mail.mailer.send(&outgoing).await
            }
        };
        match handed_over {
            Ok(()) => {
                if self.abort_after_hand_over {
                    tracing::error!(delivery_id = %job.id, "fault injection: aborting between hand-over and record");
                    std::process::abort();
                }
                self.record_sent(job).await?;
                count(channel.as_str(), "sent", 1);
                Ok(true)
            }
            // Maybe accepted: left recorded, it settles as UNCONFIRMED.
            Err(SendError::Unknown(err)) => {
                tracing::warn!(delivery_id = %job.id, error = %err, "no answer from the server; not sent again");
                Ok(false)
            }
            Err(err) => {
                let retry_at = if matches!(err, SendError::Transient(_)) { self.retry_at(job) } else { None };
                if retry_at.is_none() {
                    tracing::error!(delivery_id = %job.id, error = %err, attempts = job.attempts + 1, "delivery failed for good");
                } else {
                    tracing::warn!(delivery_id = %job.id, error = %err, "not accepted; retried later");
                }
                self.attempt_failed(channel, job, &err.to_string(), retry_at).await?;
                Ok(false)
            }
        }
    }

    /// Marks a handed-over message SENT, retrying while the database is
    /// unreachable (a restart): the message went, and only this sender knows.
    /// Given up after the lease, when the row settles as UNCONFIRMED.
    async fn record_sent(&self, job: &Job) -> jobtracker_kit::AppResult<()> {
        let give_up = std::time::Instant::now() + self.mail.lease.to_std().unwrap_or(Duration::from_secs(60));
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.mark_sent(job.id).await {
                Ok(()) => return Ok(()),
                Err(err) if std::time::Instant::now() + wait < give_up => {
                    tracing::warn!(delivery_id = %job.id, error = %err, "handed over, not yet recorded; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Records a refused attempt: retried at `retry_at`, or FAILED for good.
    async fn attempt_failed(
        &self,
        channel: Channel,
        job: &Job,
        why: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> jobtracker_kit::AppResult<()> {
        self.store.attempt_failed(job.id, why, retry_at).await?;
        count(channel.as_str(), if retry_at.is_some() { "retried" } else { "failed" }, 1);
        Ok(())
    }

    /// When to try `job` again after this attempt; `None` when it was the last.
    fn retry_at(&self, job: &Job) -> Option<chrono::DateTime<chrono::Utc>> {
        (job.attempts + 1 < self.mail.max_attempts).then(|| self.clock.now() + self.backoff(job.attempts))
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let factor = 1i32.checked_shl(u32::try_from(attempts.clamp(0, 16)).unwrap_or(0)).unwrap_or(i32::MAX);
        (self.mail.first_retry * factor).min(chrono::Duration::hours(1))
    }

    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            match self.deliver_due().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "delivered notifications"),
                Err(err) => {
                    err.report();
                    tracing::warn!(error = %err, "delivering notifications failed; next round retries");
                }
            }
            if pruned_at.is_none_or(|at| at.elapsed() > PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                if let Err(err) = self.store.prune(self.clock.now() - self.retention).await {
                    tracing::warn!(error = %err, "pruning sent deliveries failed");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = self.scheduled.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
