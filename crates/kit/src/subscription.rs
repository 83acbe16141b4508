//! The one shape of our subscriptions: a viewer's stream of pushes fed by
//! the fanout ([`crate::events::Fanout`]).
//!
//! - Only the viewer's events count (`event.user_id`), and of those the ones
//!   the subscription is about.
//! - A push is computed when it is sent (the current state, not the event's
//!   copy of it), so a burst can be gathered into one push and a subscriber
//!   whose channel lagged gets a push too: the missed events may have been
//!   its own, and recomputing is always right where dropping is not.
//! - The stream ends with UNAUTHENTICATED when the viewer's token expires
//!   (`Viewer::expires_at`): the client subscribes again with a fresh token.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OnceCell, broadcast};
use tokio::time::Instant;

use crate::auth::Viewer;
use crate::error::{AppError, AppResult};
use crate::events::Envelope;
use crate::sync::{lock, sweep_due};

/// The longest a subscription is kept open whatever its token says (it
/// also keeps the deadline arithmetic far from overflowing).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Which of the viewer's events call for a push, and the shortest time
/// between two pushes (a burst is gathered into one push per window).
#[derive(Clone, Copy, Debug)]
pub struct Watch {
    /// Whether one of the viewer's events concerns this subscription.
    pub concerns: fn(&Envelope) -> bool,
    /// Zero pushes after every event; otherwise the first change goes at
    /// once and the rest of a burst at the window's end.
    pub debounce: Duration,
}

/// The viewer's pushes: after each event of theirs that `watch` concerns
/// (or a lag), `push` computes the current value (`None`: nothing to send),
/// given when the newest change it covers was seen (so the viewer's other
/// subscriptions can share one computation made after it: see
/// [`SharedSince`]).
/// An error of `push` is sent and the stream goes on; at the token's expiry
/// the stream sends UNAUTHENTICATED and ends; it ends quietly when the feed
/// closes (the service is stopping).
pub fn viewer_stream<T, F, Fut>(
    viewer: Viewer,
    events: broadcast::Receiver<Arc<Envelope>>,
    watch: Watch,
    push: F,
) -> impl Stream<Item = async_graphql::Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(Instant) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Option<T>>> + Send,
{
    let expiry = Instant::now() + until(viewer.expires_at);
    futures::stream::unfold(Some((events, push, None)), move |state| async move {
        let (mut events, mut push, mut pushed) = state?;
        loop {
            let began = tokio::select! {
                _ = tokio::time::sleep_until(expiry) => {
                    let expired =
                        AppError::Unauthenticated("the access token expired; subscribe again with a fresh one".into());
                    return Some((Err(expired.into()), None));
                }
                began = next_change(&mut events, &viewer, &watch, pushed) => began?,
            };
            let result = push(began).await;
            pushed = Some(Instant::now());
            match result {
                Ok(Some(value)) => return Some((Ok(value), Some((events, push, pushed)))),
                Ok(None) => continue,
                Err(err) => return Some((Err(err.into()), Some((events, push, pushed)))),
            }
        }
    })
}

/// Time left until `expires_at` (Unix seconds), at most [`MAX_LIFETIME`].
fn until(expires_at: i64) -> Duration {
    let left_ms = expires_at.saturating_mul(1000).saturating_sub(chrono::Utc::now().timestamp_millis());
    Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)).min(MAX_LIFETIME)
}

/// Waits for the next event of the viewer's that `watch` concerns (or a
/// lag). If the last push (`pushed`) was less than `watch.debounce` ago, it
/// then gathers what else comes until that window ends, so a burst gives
/// one push at once and one at the window's end, never more than one per
/// window. Returns when the newest change covered was seen: a computation
/// made after it sees them all. `None` when the feed closed.
async fn next_change(
    events: &mut broadcast::Receiver<Arc<Envelope>>,
    viewer: &Viewer,
    watch: &Watch,
    pushed: Option<Instant>,
) -> Option<Instant> {
    let ours = |received: &Result<Arc<Envelope>, RecvError>| match received {
        Ok(event) => event.user_id == viewer.user_id && (watch.concerns)(event),
        // Missed events may have been ours: push to be safe.
        Err(RecvError::Lagged(_)) => true,
        Err(RecvError::Closed) => false,
    };
    loop {
        let received = events.recv().await;
        if ours(&received) {
            break;
        }
        if let Err(RecvError::Closed) = received {
            return None;
        }
    }
    let mut seen = Instant::now();
    let Some(window_end) = pushed.map(|at| at + watch.debounce).filter(|end| *end > seen) else {
        return Some(seen);
    };
    let window = tokio::time::sleep_until(window_end);
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => return Some(seen),
            received = events.recv() => {
                if ours(&received) {
                    seen = Instant::now();
                } else if let Err(RecvError::Closed) = received {
                    return Some(seen);
                }
            }
        }
    }
}

/// One computation shared by all of a user's subscriptions (tabs) pushing
/// after the same change: per key, the newest value and when it was made.
/// `after(key, began)` reuses it if it was made after `began` (when the
/// newest change the push covers was seen, so it sees that change), else
/// starts a new one. A value lives while a push holds it; the map keeps
/// only weak references, swept as keys are added.
pub struct SharedSince<K, V> {
    newest: Mutex<HashMap<K, (Instant, Weak<V>)>>,
}

impl<K, V> Default for SharedSince<K, V> {
    fn default() -> Self {
        Self { newest: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq, V: Default> SharedSince<K, V> {
    pub fn after(&self, key: K, began: Instant) -> Arc<V> {
        let mut newest = lock(&self.newest);
        if let Some(value) = newest.get(&key).filter(|(made, _)| *made >= began).and_then(|(_, v)| v.upgrade()) {
            return value;
        }
        if sweep_due(newest.len()) {
            newest.retain(|_, (_, value)| value.strong_count() > 0);
        }
        let value = Arc::new(V::default());
        newest.insert(key, (Instant::now(), Arc::downgrade(&value)));
        value
    }
}

impl<K: Hash + Eq, T: Clone> SharedSince<K, OnceCell<T>> {
    /// `compute`d once for every push that shares `key` after `began`; the
    /// others await it. A failure is not kept: the next push computes again.
    pub async fn once<F, Fut>(&self, key: K, began: Instant, compute: F) -> AppResult<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        self.after(key, began).get_or_try_init(compute).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures::StreamExt;
    use uuid::Uuid;

    use super::*;

    const WATCHED: &str = "thing.changed";

    fn event(user: Uuid, event_type: &str) -> Arc<Envelope> {
        Arc::new(Envelope::new(event_type, user, user, 1, &serde_json::json!({})))
    }

    fn code(err: &async_graphql::Error) -> Option<String> {
        err.extensions.as_ref()?.get("code").map(|v| v.to_string().trim_matches('"').to_string())
    }

    #[tokio::test]
    async fn pushes_the_viewers_changes_recomputes_after_a_lag_and_ends_unauthenticated_at_expiry() {
        let viewer = Viewer { user_id: Uuid::now_v7(), expires_at: chrono::Utc::now().timestamp() + 3 };
        let (sender, events) = broadcast::channel(4);
        let pushes = Arc::new(AtomicU32::new(0));
        let counter = pushes.clone();
        let watch = Watch { concerns: |e| e.event_type == WATCHED, debounce: Duration::ZERO };
        let stream = viewer_stream(viewer, events, watch, move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { AppResult::Ok(Some(n)) }
        });
        tokio::pin!(stream);
        let mut next = async |wait: u64| tokio::time::timeout(Duration::from_millis(wait), stream.next()).await.ok();

        sender.send(event(Uuid::now_v7(), WATCHED)).unwrap();
        sender.send(event(viewer.user_id, "thing.ignored")).unwrap();
        sender.send(event(viewer.user_id, WATCHED)).unwrap();
        assert_eq!(next(5000).await.flatten().unwrap().unwrap(), 1, "the viewer's change is pushed");
        assert!(next(300).await.is_none(), "someone else's event and other kinds are not");

        // Five events into room for four: the subscriber lags.
        for _ in 0..5 {
            sender.send(event(Uuid::now_v7(), WATCHED)).unwrap();
        }
        assert_eq!(next(5000).await.flatten().unwrap().unwrap(), 2, "a lag is pushed, not dropped");

        let expired = next(5000).await.flatten().unwrap().unwrap_err();
        assert_eq!(code(&expired).as_deref(), Some("UNAUTHENTICATED"));
        assert!(next(5000).await.unwrap().is_none(), "the stream ends at expiry");
    }

    #[tokio::test]
    async fn the_first_change_goes_at_once_and_a_burst_after_it_waits_for_the_window() {
        let viewer = Viewer { user_id: Uuid::now_v7(), expires_at: chrono::Utc::now().timestamp() + 60 };
        let (sender, events) = broadcast::channel(16);
        let computed = Arc::new(AtomicU32::new(0));
        let counter = computed.clone();
        let debounce = Duration::from_millis(300);
        let watch = Watch { concerns: |_| true, debounce };
        let stream = viewer_stream(viewer, events, watch, move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { AppResult::Ok(Some(n)) }
        });
        tokio::pin!(stream);

        let first = Instant::now();
        sender.send(event(viewer.user_id, WATCHED)).unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        assert!(first.elapsed() < debounce / 2, "the first change is not held back: {:?}", first.elapsed());
        for _ in 0..3 {
            sender.send(event(viewer.user_id, WATCHED)).unwrap();
        }
        assert_eq!(stream.next().await.unwrap().unwrap(), 2, "the burst is one push");
        assert!(first.elapsed() >= debounce, "not before the window ends: {:?}", first.elapsed());
        let more = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
        assert!(more.is_err(), "nothing more was pushed");
        assert_eq!(computed.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn pushes_after_one_change_share_a_value_and_a_later_change_gets_a_new_one() {
        let shared = SharedSince::<u32, AtomicU32>::default();
        let began = Instant::now();
        let first = shared.after(1, began);
        first.fetch_add(1, Ordering::SeqCst);
        assert_eq!(shared.after(1, began).load(Ordering::SeqCst), 1, "the same change shares one value");
        assert_eq!(shared.after(2, began).load(Ordering::SeqCst), 0, "another key has its own");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            shared.after(1, Instant::now()).load(Ordering::SeqCst),
            0,
            "a later change is not served a stale value"
        );
        drop(first);
        for key in 0..200 {
            drop(shared.after(key, Instant::now()));
        }
        assert!(lock(&shared.newest).len() < 200, "values nobody holds are swept");
    }

    #[tokio::test]
    async fn a_far_expiry_does_not_overflow_and_a_closed_feed_ends_the_stream() {
        let viewer = Viewer { user_id: Uuid::now_v7(), expires_at: i64::MAX };
        let (sender, events) = broadcast::channel::<Arc<Envelope>>(4);
        let watch = Watch { concerns: |_| true, debounce: Duration::from_millis(10) };
        let stream = viewer_stream(viewer, events, watch, |_| async { AppResult::Ok(Some(())) });
        drop(sender);
        let items: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect::<Vec<_>>()).await.unwrap();
        assert!(items.is_empty());
    }
}
