//! Every event of some types, delivered to every replica: an exclusive,
//! server-named queue per process feeding in-process broadcast channels,
//! one per user with subscribers here (so an event wakes its user's
//! subscriptions only, not every subscription of the replica). Used for
//! pushes (subscriptions), where each replica serves its own WebSocket
//! clients; the shared work queues would hand each event to one replica
//! only. Pushes are best effort by nature: a subscriber that misses one
//! reads the current state on the next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::amqp::{EventBus, next_delivery};
use super::envelope::Envelope;
use super::topology;
use crate::sync::{lock, sweep_due};

/// Events a user's subscriptions may miss before they lag (and recompute).
const PER_USER_CAPACITY: usize = 64;

/// Users with subscribers on this replica → their channel.
type Feeds = Arc<Mutex<HashMap<Uuid, broadcast::Sender<Arc<Envelope>>>>>;

#[derive(Clone)]
pub struct Fanout {
    feeds: Feeds,
    ready: watch::Receiver<bool>,
}

impl Fanout {
    /// Starts the background listener; it stops with `shutdown`.
    pub fn spawn(bus: EventBus, bindings: &'static [&'static str], shutdown: CancellationToken) -> Self {
        let (ready_tx, ready) = watch::channel(false);
        let fanout = Self { feeds: Feeds::default(), ready };
        let feeds = fanout.feeds.clone();
        tokio::spawn(async move {
            bus.run_connected("fanout", &shutdown, |channel| async {
                let listened = listen(&bus, channel, bindings, &feeds, &ready_tx, &shutdown).await;
                let _ = ready_tx.send(false);
                listened
            })
            .await;
        });
        fanout
    }

    /// The events of `user` from now on.
    pub fn subscribe(&self, user: Uuid) -> broadcast::Receiver<Arc<Envelope>> {
        let mut feeds = lock(&self.feeds);
        // Users whose subscribers all left are dropped as others arrive, so
        // the map holds about as many users as have subscribers.
        if sweep_due(feeds.len()) {
            feeds.retain(|_, sender| sender.receiver_count() > 0);
        }
        feeds.entry(user).or_insert_with(|| broadcast::channel(PER_USER_CAPACITY).0).subscribe()
    }

    /// Resolves once the queue is bound (tests wait for it before acting).
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }
}

/// Hands `envelope` to its user's subscribers, if any are here.
fn route(feeds: &Feeds, envelope: Envelope) {
    let mut feeds = lock(feeds);
    let user = envelope.user_id;
    let gone = feeds.get(&user).is_some_and(|sender| sender.send(Arc::new(envelope)).is_err());
    if gone {
        // Every subscriber of this user here has left.
        feeds.remove(&user);
    }
}

async fn listen(
    bus: &EventBus,
    channel: lapin::Channel,
    bindings: &[&str],
    feeds: &Feeds,
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
            Ok(envelope) => route(feeds, envelope),
            Err(err) => tracing::warn!(error = %err, "fanout ignored a message that is not an envelope"),
        }
    }
    Ok(())
}
