//! The event backbone: a topic exchange on RabbitMQ, fed by a transactional
//! outbox and read by idempotent consumers.
//!
//! - [`outbox`]: an event row is written in the same transaction as the change;
//!   [`publisher`] is how a store does it (write, record, commit, wake).
//! - [`relay`]: publishes outbox rows with publisher confirms, then marks them.
//! - [`consumer`]: a durable queue per consumer with a dead-letter queue; the
//!   event id is recorded in the consumer's transaction, and the message is
//!   acked only after that commit, so redelivery is harmless. Transient
//!   failures are retried until they pass, permanent ones dead-lettered
//!   ([`HandlerError`]); [`dlq`] moves dead letters back.
//! - [`fanout`]: a per-process exclusive queue for pushes (subscriptions),
//!   so every replica sees every event.

pub mod amqp;
pub mod consumer;
pub mod contracts;
pub mod dlq;
pub mod envelope;
pub mod error;
pub mod fanout;
pub mod outbox;
pub mod publisher;
pub mod relay;
mod schema;
pub mod topology;

pub use consumer::{Consumer, EventHandler};
pub use envelope::Envelope;
pub use error::{HandlerError, HandlerResult};
pub use fanout::Fanout;
pub use outbox::Outbox;
pub use publisher::{Events, Publisher};
pub use relay::OutboxRelay;

use std::time::Duration;

use crate::env::env_parse;

/// Timeouts and retention of the event backbone (README: configuration).
#[derive(Clone, Debug)]
pub struct EventsConfig {
    /// `RELAY_CONFIRM_TIMEOUT_SECS`: how long the broker has to confirm a batch.
    pub confirm_timeout: Duration,
    /// `OUTBOX_RETENTION_HOURS`: how long published rows are kept.
    pub outbox_retention: Duration,
    /// `CONSUMER_MAX_BACKOFF_SECS`: the longest pause between retries of a
    /// transiently failing event.
    pub consumer_max_backoff: Duration,
    /// Every consumer queue of the system (from the service table): relays
    /// declare them all before publishing.
    pub queues: Vec<topology::QueueSpec>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            confirm_timeout: Duration::from_secs(30),
            outbox_retention: Duration::from_secs(168 * 3600),
            consumer_max_backoff: Duration::from_secs(30),
            queues: Vec::new(),
        }
    }
}

impl EventsConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        let secs = |key: &str, default: Duration| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(env_parse(key, default.as_secs())?))
        };
        let retention_hours: u64 = env_parse("OUTBOX_RETENTION_HOURS", defaults.outbox_retention.as_secs() / 3600)?;
        Ok(Self {
            confirm_timeout: secs("RELAY_CONFIRM_TIMEOUT_SECS", defaults.confirm_timeout)?,
            outbox_retention: Duration::from_secs(retention_hours.saturating_mul(3600)),
            consumer_max_backoff: secs("CONSUMER_MAX_BACKOFF_SECS", defaults.consumer_max_backoff)?,
            queues: Vec::new(),
        })
    }
}
