//! What search consumes: every application and contact change and every
//! registration and profile change. Each event carries its aggregate's
//! latest state and version, so applying one is replacing that document
//! unless the index already holds a newer version (order-safe); deletions
//! remove it. Search publishes nothing.

use std::sync::Arc;

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{USER_REGISTERED, USER_UPDATED};
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};

use crate::index::SearchIndex;
use crate::model::Document;

/// Durable, with its dead-letter queue, like every consumer queue.
pub const EVENTS_QUEUE: QueueSpec =
    QueueSpec { name: "search.documents", bindings: &["application.*", "contact.*", USER_REGISTERED, USER_UPDATED] };

/// Whether an outbox row is one search reads (reindex), as the queue's bindings say.
pub const OUTBOX_FILTER: &str = "(event_type LIKE 'application.%' OR event_type LIKE 'contact.%' OR event_type IN ('user.registered', 'user.updated'))";

/// From a change's occurrence to its document being applied to the index.
static FRESHNESS: std::sync::LazyLock<prometheus::HistogramVec> = std::sync::LazyLock::new(|| {
    jobtracker_kit::metrics::histogram(
        "search_index_freshness_seconds",
        "From a change's occurrence to its document being applied to the search index.",
        &["service", "backend"],
    )
});

pub struct IndexHandler {
    pub index: Arc<dyn SearchIndex>,
}

#[async_trait]
impl EventHandler for IndexHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        match Document::from_event(event)? {
            Some(document) => {
                self.index.apply(conn, &document).await?;
                FRESHNESS
                    .with_label_values(&[crate::SERVICE, self.index.backend()])
                    .observe(jobtracker_kit::metrics::seconds_since(event.occurred_at));
                Ok(())
            }
            None => Ok(()),
        }
    }
}
