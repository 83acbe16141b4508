//! What contacts consumes: every registration (auth's `user.registered`)
//! and profile change (users' `user.updated`), to keep its replica of users'
//! e-mails, by which contacts are linked to users (decision 26). What it
//! publishes (`contact.*`) is written by the store.

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{USER_REGISTERED, USER_UPDATED, UserRegistered, UserUpdated};
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};

use crate::model::email_key;
use crate::store::{self, KnownUser};

/// The e-mails of users, from both of the events that carry one.
pub const USERS_QUEUE: QueueSpec = QueueSpec { name: "contacts.users", bindings: &[USER_REGISTERED, USER_UPDATED] };

/// Keeps the replica: the newest e-mail of every user, by aggregate version.
pub struct UserEmailHandler;

#[async_trait]
impl EventHandler for UserEmailHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        let (user_id, email) = match event.event_type.as_str() {
            USER_REGISTERED => {
                let registered: UserRegistered = event.payload()?;
                (registered.user_id, registered.email)
            }
            USER_UPDATED => {
                let updated: UserUpdated = event.payload()?;
                (updated.user_id, updated.email)
            }
            _ => return Ok(()),
        };
        let user = KnownUser {
            user_id,
            email: email_key(&email),
            version: event.aggregate_version,
            changed_at: event.occurred_at,
        };
        if !store::remember_user(conn, &user).await? {
            tracing::debug!(user_id = %user_id, version = user.version, "stale user event, the replica is newer");
        }
        Ok(())
    }
}
