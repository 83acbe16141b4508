//! What interviews consumes (`application.deleted`: its interviews go too).

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{APPLICATION_DELETED, ApplicationDeleted};
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};

use crate::store::{self, Store};

pub struct ApplicationDeletionHandler {
    pub store: Store,
}

#[async_trait]
impl EventHandler for ApplicationDeletionHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        if event.event_type != APPLICATION_DELETED {
            return Ok(());
        }
        let deleted: ApplicationDeleted = event.payload()?;
        let removed = store::delete_for_application(conn, event.user_id, deleted.application.application_id).await?;
        tracing::info!(application_id = %deleted.application.application_id, removed, "interviews of a deleted application removed");
        Ok(())
    }

    fn committed(&self, _event: &Envelope) {
        self.store.wake_relay();
    }
}
