//! Event types and their payloads: the contract between publishers and
//! consumers. Payloads only grow (new optional fields); a breaking change
//! bumps the envelope `version`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const USER_REGISTERED: &str = "user.registered";
pub const USER_UPDATED: &str = "user.updated";

/// auth → a new account exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub registered_at: DateTime<Utc>,
}

/// users → a public profile changed; carries the whole profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdated {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

pub const APPLICATION_CREATED: &str = "application.created";
pub const APPLICATION_UPDATED: &str = "application.updated";
pub const APPLICATION_STATUS_CHANGED: &str = "application.status_changed";
pub const APPLICATION_DELETED: &str = "application.deleted";

/// Envelope version of `application.*` events. Version 2 carries the
/// status history's digest (`statusDigest`) instead of the whole history
/// with notes (version 1, still read: outboxes keep old events), so an
/// event's size no longer grows with the number of status changes.
pub const APPLICATION_EVENTS_VERSION: i32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalarySnapshot {
    pub min: Option<i32>,
    pub max: Option<i32>,
    /// ISO 4217.
    pub currency: String,
    /// YEAR, MONTH or HOUR.
    pub period: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeSnapshot {
    /// None for the creation entry.
    pub from: Option<String>,
    /// SAVED, APPLIED, INTERVIEW, OFFER or REJECTED.
    pub to: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// An application as it is after the change: consumers never call back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSnapshot {
    pub application_id: Uuid,
    pub owner_id: Uuid,
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary: Option<SalarySnapshot>,
    pub job_url: Option<String>,
    pub status: String,
    pub applied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Version 1 only: the whole history, oldest first, creation included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_history: Vec<StatusChangeSnapshot>,
    /// Version 2: what the history adds up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_digest: Option<StatusDigest>,
}

impl ApplicationSnapshot {
    /// The status digest, computed from the history for version 1 events.
    pub fn digest(&self) -> StatusDigest {
        match &self.status_digest {
            Some(digest) => digest.clone(),
            None => StatusDigest::from_history(self.status_history.iter().map(|h| (h.to.as_str(), h.at))),
        }
    }
}

/// What an application's status history adds up to — everything consumers
/// derive from it (funnel stages reached, first response, time spent per
/// status) — in a size independent of the number of changes: at most five
/// statuses, two times, and per status one entry per distinct whole-day
/// duration (durations that differ sum to at least 0+1+…+(k−1) days, so an
/// application N days old has at most √(2N)+1 of them per status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDigest {
    /// Entries in the history, creation included.
    pub changes: i64,
    /// Every status the application has had, once each, in the order first reached.
    pub reached: Vec<String>,
    /// When it first became APPLIED.
    pub first_applied_at: Option<DateTime<Utc>>,
    /// The first change after that to INTERVIEW, OFFER or REJECTED.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When the current status was entered (that stay is still running).
    pub current_since: Option<DateTime<Utc>>,
    /// Completed stays: status → length in [`whole_days`] → how many.
    pub stay_days: BTreeMap<String, BTreeMap<i64, i64>>,
}

impl StatusDigest {
    /// Folds a history given oldest first as `(to, at)`.
    pub fn from_history<'a>(history: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>) -> Self {
        let mut digest = Self::default();
        let mut current: Option<&str> = None;
        for (to, at) in history {
            if let (Some(from), Some(since)) = (current, digest.current_since) {
                *digest.stay_days.entry(from.to_string()).or_default().entry(whole_days(since, at)).or_default() += 1;
            }
            if !digest.reached.iter().any(|s| s == to) {
                digest.reached.push(to.to_string());
            }
            if digest.first_applied_at.is_some()
                && digest.first_response_at.is_none()
                && matches!(to, "INTERVIEW" | "OFFER" | "REJECTED")
            {
                digest.first_response_at = Some(at);
            }
            if to == "APPLIED" && digest.first_applied_at.is_none() {
                digest.first_applied_at = Some(at);
            }
            digest.changes += 1;
            digest.current_since = Some(at);
            current = Some(to);
        }
        digest
    }
}

/// Whole days from `from` to `to`, rounded down, never negative: how every
/// duration in events and analytics is counted.
pub fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds().max(0) / 86_400
}

/// `application.created` and `application.updated`.
pub type ApplicationChanged = ApplicationSnapshot;

/// `application.status_changed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatusChanged {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    pub application: ApplicationSnapshot,
}

/// `application.deleted`: the application as it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDeleted {
    pub deleted_at: DateTime<Utc>,
    pub application: ApplicationSnapshot,
}

pub const INTERVIEW_SCHEDULED: &str = "interview.scheduled";
pub const INTERVIEW_UPDATED: &str = "interview.updated";
pub const INTERVIEW_CANCELLED: &str = "interview.cancelled";
pub const INTERVIEW_DELETED: &str = "interview.deleted";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterviewSnapshot {
    pub interview_id: Uuid,
    pub owner_id: Uuid,
    pub application_id: Option<Uuid>,
    pub company: String,
    pub position: String,
    pub scheduled_at: DateTime<Utc>,
    /// IANA name.
    pub time_zone: String,
    pub duration_minutes: Option<i32>,
    /// PHONE, ONSITE or ONLINE.
    pub interview_type: String,
    pub details: Option<String>,
    pub cancelled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every `interview.*` event: the interview after the change (before it, for
/// `interview.deleted`), and the previous time when it was rescheduled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterviewChanged {
    pub interview: InterviewSnapshot,
    pub previous_scheduled_at: Option<DateTime<Utc>>,
}
