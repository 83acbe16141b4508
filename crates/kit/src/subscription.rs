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

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::auth::Viewer;
use crate::error::{AppError, AppResult};
use crate::events::Envelope;

/// The longest a subscription is kept open whatever its token says (it
/// also keeps the deadline arithmetic far from overflowing).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Which of the viewer's events call for a push, and how long a burst of
/// them is gathered into one push.
#[derive(Clone, Copy, Debug)]
pub struct Watch {
    /// Whether one of the viewer's events concerns this subscription.
    pub concerns: fn(&Envelope) -> bool,
    /// Zero pushes after every event.
    pub debounce: Duration,
}

/// The viewer's pushes: after each event of theirs that `watch` concerns
/// (or a lag), `push` computes the current value (`None`: nothing to send),
/// given when that change began (so the viewer's other subscriptions can
/// share one computation made after it: see the dashboard's snapshots).
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
    futures::stream::unfold(Some((events, push)), move |state| async move {
        let (mut events, mut push) = state?;
        loop {
            let began = tokio::select! {
                _ = tokio::time::sleep_until(expiry) => {
                    let expired =
                        AppError::Unauthenticated("the access token expired; subscribe again with a fresh one".into());
                    return Some((Err(expired.into()), None));
                }
                began = next_change(&mut events, &viewer, &watch) => began?,
            };
            match push(began).await {
                Ok(Some(value)) => return Some((Ok(value), Some((events, push)))),
                Ok(None) => continue,
                Err(err) => return Some((Err(err.into()), Some((events, push)))),
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
/// lag), then gathers the rest of the burst for `watch.debounce`; when the
/// first arrived. `None` when the feed closed.
async fn next_change(
    events: &mut broadcast::Receiver<Arc<Envelope>>,
    viewer: &Viewer,
    watch: &Watch,
) -> Option<Instant> {
    loop {
        match events.recv().await {
            Ok(event) if event.user_id == viewer.user_id && (watch.concerns)(&event) => break,
            // Missed events may have been ours: push to be safe.
            Err(RecvError::Lagged(_)) => break,
            Ok(_) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
    let began = Instant::now();
    if watch.debounce.is_zero() {
        return Some(began);
    }
    let window = tokio::time::sleep(watch.debounce);
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => return Some(began),
            more = events.recv() => if let Err(RecvError::Closed) = more { return Some(began) },
        }
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
