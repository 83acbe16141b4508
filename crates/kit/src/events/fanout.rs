//! Every event of some types, delivered to every replica: an exclusive,
//! server-named queue per process feeding an in-process broadcast channel.
//! Used for pushes (subscriptions), where each replica serves its own
//! WebSocket clients; the shared work queues would hand each event to one
//! replica only. Pushes are best effort by nature: a subscriber that misses
//! one reads the current state on the next.

use std::sync::Arc;

use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::amqp::{EventBus, next_delivery};
use super::envelope::Envelope;
use super::topology;

#[derive(Clone)]
pub struct Fanout {
    sender: broadcast::Sender<Arc<Envelope>>,
    ready: watch::Receiver<bool>,
}

impl Fanout {
    /// Starts the background listener; it stops with `shutdown`.
    pub fn spawn(bus: EventBus, bindings: &'static [&'static str], shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let (ready_tx, ready) = watch::channel(false);
        let fanout = Self { sender: sender.clone(), ready };
        tokio::spawn(async move {
            bus.run_connected("fanout", &shutdown, |channel| async {
                let listened = listen(&bus, channel, bindings, &sender, &ready_tx, &shutdown).await;
                let _ = ready_tx.send(false);
                listened
            })
            .await;
        });
        fanout
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.sender.subscribe()
    }

    /// Resolves once the queue is bound (tests wait for it before acting).
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }
}

async fn listen(
    bus: &EventBus,
    channel: lapin::Channel,
    bindings: &[&str],
    sender: &broadcast::Sender<Arc<Envelope>>,
    ready: &watch::Sender<bool>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    topology::declare_exchanges(bus, &channel).await?;
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), options, FieldTable::default()).await?;
    for key in bindings {
        channel
            .queue_bind(
                queue.name().clone(),
                bus.events_exchange().as_str().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let consume = BasicConsumeOptions { no_ack: true, exclusive: true, ..Default::default() };
    let mut deliveries = channel.basic_consume(queue.name().clone(), "".into(), consume, FieldTable::default()).await?;
    let _ = ready.send(true);
    while let Some(delivery) = next_delivery(&mut deliveries, shutdown).await? {
        match serde_json::from_slice::<Envelope>(&delivery.data) {
            // No receivers is fine: nobody is subscribed on this replica.
            Ok(envelope) => drop(sender.send(Arc::new(envelope))),
            Err(err) => tracing::warn!(error = %err, "fanout ignored a message that is not an envelope"),
        }
    }
    Ok(())
}
