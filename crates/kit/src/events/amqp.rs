//! Connection settings for RabbitMQ and the naming of exchanges and queues.
//!
//! Names carry a prefix (`EVENTS_PREFIX`, default `jobtracker`) so that
//! parallel test environments on one broker never steal each other's
//! messages; an ephemeral bus (tests) lets its queues expire when unused.

use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct EventBus {
    pub url: String,
    pub prefix: String,
    /// Queues expire after a minute without consumers and exchanges
    /// auto-delete: for test environments only.
    pub ephemeral: bool,
}

impl EventBus {
    pub fn from_env(url: &str) -> Self {
        Self { url: url.to_string(), prefix: crate::env::env_or("EVENTS_PREFIX", "jobtracker"), ephemeral: false }
    }

    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn queue(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// Connections are named after the prefix, so an operator (or a test)
    /// can tell which environment a connection belongs to.
    pub async fn connect(&self) -> lapin::Result<Connection> {
        let properties = ConnectionProperties::default().with_connection_name(self.prefix.as_str().into());
        Connection::connect(&self.url, properties).await
    }

    /// Connects, retrying with capped exponential backoff until connected or
    /// cancelled (`None`).
    pub async fn connect_with_retry(&self, what: &str, shutdown: &CancellationToken) -> Option<Connection> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.connect().await {
                Ok(conn) => return Some(conn),
                Err(err) => {
                    tracing::warn!(worker = what, error = %err, retry_in_ms = delay.as_millis() as u64, "RabbitMQ unavailable")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Runs `work` on a channel of a fresh connection until it returns `Ok`
    /// (it saw `shutdown`), reconnecting with a pause whenever it fails: a
    /// broker restart or a dropped connection only delays a worker.
    pub async fn run_connected<F, Fut>(&self, what: &str, shutdown: &CancellationToken, mut work: F)
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        while let Some(connection) = self.connect_with_retry(what, shutdown).await {
            let outcome = match connection.create_channel().await {
                Ok(channel) => work(channel).await,
                Err(err) => Err(err.into()),
            };
            match outcome {
                Ok(()) => {
                    let _ = connection.close(200, "shutdown".into()).await;
                    return;
                }
                Err(err) => tracing::warn!(worker = what, error = format!("{err:#}"), "interrupted, reconnecting"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
}

/// The next delivery, or `None` once `shutdown` fires.
pub async fn next_delivery(
    deliveries: &mut lapin::Consumer,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Delivery>> {
    tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        next = deliveries.next() => match next {
            Some(delivery) => Ok(Some(delivery?)),
            None => anyhow::bail!("delivery stream ended"),
        },
    }
}
