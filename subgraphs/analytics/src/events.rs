//! The events analytics consumes: every `application.*` and `interview.*`.
//! Each event carries the aggregate's latest snapshot, so applying one is
//! replacing that aggregate's contribution; older versions are ignored.

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_STATUS_CHANGED, APPLICATION_UPDATED, ApplicationDeleted,
    ApplicationSnapshot, ApplicationStatusChanged, INTERVIEW_DELETED, InterviewChanged,
};
use jobtracker_kit::events::{Envelope, EventHandler};

use crate::model::contribution;
use crate::store;

pub struct AnalyticsHandler;

/// Applies one event to the read models; shared by the consumer and `rebuild`.
pub async fn apply(conn: &mut AsyncPgConnection, event: &Envelope) -> anyhow::Result<bool> {
    let (owner, id, version) = (event.user_id, event.aggregate_id, event.aggregate_version);
    match event.event_type.as_str() {
        APPLICATION_CREATED | APPLICATION_UPDATED => {
            let snapshot: ApplicationSnapshot = event.payload()?;
            store::apply_application(conn, owner, id, version, Some(contribution(&snapshot))).await
        }
        APPLICATION_STATUS_CHANGED => {
            let changed: ApplicationStatusChanged = event.payload()?;
            store::apply_application(conn, owner, id, version, Some(contribution(&changed.application))).await
        }
        APPLICATION_DELETED => {
            let _: ApplicationDeleted = event.payload()?;
            store::apply_application(conn, owner, id, version, None).await
        }
        interview if interview.starts_with("interview.") => {
            let changed: InterviewChanged = event.payload()?;
            let counted = interview != INTERVIEW_DELETED && !changed.interview.cancelled;
            store::apply_interview(conn, owner, id, version, counted).await
        }
        _ => Ok(false),
    }
}

#[async_trait]
impl EventHandler for AnalyticsHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> anyhow::Result<()> {
        apply(conn, event).await.map(drop)
    }
}
