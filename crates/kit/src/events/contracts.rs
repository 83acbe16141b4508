//! Event types and their payloads: the contract between publishers and
//! consumers. Payloads only grow (new optional fields); a breaking change
//! bumps the envelope `version`.

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
    /// Oldest first, creation included.
    pub status_history: Vec<StatusChangeSnapshot>,
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
