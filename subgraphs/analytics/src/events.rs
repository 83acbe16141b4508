//! The events analytics consumes: every `application.*` and `interview.*`.
//! Each event carries the aggregate's latest snapshot, so applying one is
//! replacing that aggregate's contribution; older versions are ignored.

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_EVENTS_VERSION, APPLICATION_STATUS_CHANGED,
    APPLICATION_UPDATED, ApplicationDeleted, ApplicationSnapshot, ApplicationStatusChanged, INTERVIEW_DELETED,
    InterviewChanged,
};
use jobtracker_kit::events::{Envelope, EventHandler, HandlerResult};

use crate::model::{Counted, contribution};
use crate::store;

/// What an event means for the read models.
pub enum Change {
    /// The application's contribution now (`None`: deleted).
    Application(Option<Vec<Counted>>),
    /// Whether the interview now counts (exists and is not cancelled).
    Interview(bool),
    Ignored,
}

/// Interprets an event; shared by the consumer and `rebuild`. An event it
/// cannot read (bad payload, a payload version newer than it knows) is a
/// permanent error: it goes to the dead-letter queue until analytics learns it.
pub fn change_of(event: &Envelope) -> HandlerResult<Change> {
    event.ensure_known_version("application.", APPLICATION_EVENTS_VERSION, "analytics")?;
    Ok(match event.event_type.as_str() {
        APPLICATION_CREATED | APPLICATION_UPDATED => {
            Change::Application(Some(contribution(&event.payload::<ApplicationSnapshot>()?)))
        }
        APPLICATION_STATUS_CHANGED => {
            Change::Application(Some(contribution(&event.payload::<ApplicationStatusChanged>()?.application)))
        }
        APPLICATION_DELETED => {
            event.payload::<ApplicationDeleted>()?;
            Change::Application(None)
        }
        interview if interview.starts_with("interview.") => {
            let changed: InterviewChanged = event.payload()?;
            Change::Interview(interview != INTERVIEW_DELETED && !changed.interview.cancelled)
        }
        _ => Change::Ignored,
    })
}

pub struct AnalyticsHandler;

#[async_trait]
impl EventHandler for AnalyticsHandler {
    async fn handle(&self, conn: &mut AsyncPgConnection, event: &Envelope) -> HandlerResult {
        let (owner, id, version) = (event.user_id, event.aggregate_id, event.aggregate_version);
        match change_of(event)? {
            Change::Application(contribution) => {
                store::apply_application(conn, owner, id, version, contribution).await?
            }
            Change::Interview(counted) => store::apply_interview(conn, owner, id, version, counted).await?,
            Change::Ignored => false,
        };
        Ok(())
    }
}
