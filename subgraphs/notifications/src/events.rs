//! What notifications consumes: every `interview.*` (kept in its replica,
//! reminders re-planned, order-safe by aggregate version),
//! `application.status_changed` (an APPLICATION_UPDATE notice for the owner)
//! and `user.registered`/`user.updated` (where e-mails go: a replica, like
//! contacts', rather than a call to users at every send).
//! Redeliveries are skipped by the consumer's processed-events record, and
//! every delivery carries an idempotency key of its own besides.

use std::sync::Arc;

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{
    APPLICATION_STATUS_CHANGED, ApplicationStatusChanged, INTERVIEW_DELETED, InterviewChanged, USER_REGISTERED,
    USER_UPDATED, UserRegistered, UserUpdated,
};
use jobtracker_kit::events::topology::QueueSpec;
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};
use tokio::sync::Notify;

use crate::model::{Clock, Interview, status_notice};
use crate::store;

pub const EVENTS_QUEUE: QueueSpec = QueueSpec {
    name: "notifications.events",
    bindings: &["interview.*", APPLICATION_STATUS_CHANGED, USER_REGISTERED, USER_UPDATED],
};

pub struct NotificationsHandler {
    pub clock: Clock,
    /// Wakes this process's sender: what an event scheduled may be due now.
    pub scheduled: Arc<Notify>,
}

#[async_trait]
impl EventHandler for NotificationsHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        match event.event_type.as_str() {
            APPLICATION_STATUS_CHANGED => {
                let changed: ApplicationStatusChanged = event.payload()?;
                let notice = status_notice(event.id, &changed, self.clock.now());
                store::schedule(conn, &notice).await?;
            }
            USER_REGISTERED => {
                let registered: UserRegistered = event.payload()?;
                let (id, version) = (registered.user_id, event.aggregate_version);
                store::remember_recipient(conn, id, &registered.email, &registered.full_name, None, version).await?;
            }
            USER_UPDATED => {
                let updated: UserUpdated = event.payload()?;
                let (id, version) = (updated.user_id, event.aggregate_version);
                let phone = updated.phone.as_deref();
                store::remember_recipient(conn, id, &updated.email, &updated.full_name, phone, version).await?;
            }
            kind if kind.starts_with("interview.") => {
                let changed: InterviewChanged = event.payload()?;
                let snapshot = changed.interview;
                let interview = Interview {
                    id: snapshot.interview_id,
                    owner_id: snapshot.owner_id,
                    company: snapshot.company,
                    position: snapshot.position,
                    scheduled_at: snapshot.scheduled_at,
                    time_zone: snapshot.time_zone,
                    active: kind != INTERVIEW_DELETED && !snapshot.cancelled,
                };
                if !store::remember_interview(conn, &interview, event.aggregate_version, self.clock).await? {
                    tracing::debug!(interview_id = %interview.id, version = event.aggregate_version, "stale interview event");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A status notice is due at once and a re-planned reminder may be: the
    /// sender goes now rather than at its next poll (bursts wake it once). A
    /// recipient's change schedules nothing, so it does not wake the sender.
    fn committed(&self, event: &Envelope) {
        if event.event_type == APPLICATION_STATUS_CHANGED || event.event_type.starts_with("interview.") {
            self.scheduled.notify_one();
        }
    }
}
