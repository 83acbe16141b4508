//! The event backbone: a topic exchange on RabbitMQ, fed by a transactional
//! outbox and read by idempotent consumers.
//!
//! - [`outbox`]: an event row is written in the same transaction as the change.
//! - [`relay`]: publishes outbox rows with publisher confirms, then marks them.
//! - [`consumer`]: a durable queue per consumer with a dead-letter queue; the
//!   event id is recorded in the consumer's transaction, and the message is
//!   acked only after that commit, so redelivery is harmless.
//! - [`fanout`]: a per-process exclusive queue for pushes (subscriptions),
//!   so every replica sees every event.

pub mod amqp;
pub mod consumer;
pub mod contracts;
pub mod envelope;
pub mod fanout;
pub mod outbox;
pub mod relay;
mod schema;
pub mod topology;

pub use consumer::{Consumer, EventHandler};
pub use envelope::Envelope;
pub use fanout::Fanout;
pub use outbox::Outbox;
pub use relay::OutboxRelay;
