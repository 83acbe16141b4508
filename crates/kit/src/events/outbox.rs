//! Writing events: `Outbox::append` inside the caller's transaction, then
//! `Outbox::wake` after commit so the relay publishes without waiting for its
//! next poll.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::sync::Notify;

use super::envelope::Envelope;
use super::schema::outbox;

#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
}

impl Outbox {
    /// Appends the event to the outbox. Must run inside the transaction that
    /// makes the change it describes: both commit, or neither.
    pub async fn append(conn: &mut AsyncPgConnection, event: &Envelope) -> QueryResult<()> {
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(event.id),
                outbox::event_type.eq(&event.event_type),
                outbox::envelope.eq(serde_json::to_value(event).expect("envelope serialises")),
                outbox::created_at.eq(event.occurred_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Tells the relay of this process that rows are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}
