//! Event types and their payloads: the contract between publishers and
//! consumers. Payloads only grow (new optional fields); a breaking change
//! bumps the envelope `version`.
//!
//! The enums that cross a service boundary (an application's status, a
//! salary's period, an interview's type) are defined here once, with the
//! wire names every place uses: the JSON of events, the text stored in
//! PostgreSQL and the GraphQL enum values. A payload carrying a value that is
//! not one of them does not decode, so its consumer dead-letters it
//! ([`Envelope::payload`](super::Envelope::payload) is a permanent error).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A closed set of values with one wire name each, used alike by serde, by
/// async-graphql and by the stores (`as_str` to write, `FromStr` to read).
/// No doc comment goes on the generated enum: async-graphql would publish it
/// as the GraphQL description, and the public schema would change.
macro_rules! wire_enum {
    ($name:ident, $what:literal, { $($variant:ident = $wire:literal),+ $(,)? }) => {
        #[derive(
            async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub enum $name {
            $(#[serde(rename = $wire)] #[graphql(name = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire name (`"APPLIED"`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, UnknownValue> {
                match value {
                    $($wire => Ok(Self::$variant),)+
                    _ => Err(UnknownValue { kind: $what, value: value.to_string(), expected: &[$($wire),+] }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that names none of an enum's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of {})", expected.join(", "))]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

wire_enum!(ApplicationStatus, "application status", {
    Saved = "SAVED",
    Applied = "APPLIED",
    Interview = "INTERVIEW",
    Offer = "OFFER",
    Rejected = "REJECTED",
});

wire_enum!(SalaryPeriod, "salary period", { Year = "YEAR", Month = "MONTH", Hour = "HOUR" });

wire_enum!(InterviewType, "interview type", { Phone = "PHONE", Onsite = "ONSITE", Online = "ONLINE" });

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
    pub period: SalaryPeriod,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeSnapshot {
    /// None for the creation entry.
    pub from: Option<ApplicationStatus>,
    pub to: ApplicationStatus,
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
    /// The job description's first [`DESCRIPTION_EXCERPT_CHARS`] characters
    /// (what search indexes): the whole text (up to 50 000 characters) would
    /// not keep events small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_excerpt: Option<String>,
    pub status: ApplicationStatus,
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

/// How much of a job description an application event carries.
pub const DESCRIPTION_EXCERPT_CHARS: usize = 2_000;

impl ApplicationSnapshot {
    /// The excerpt of `description` an event carries.
    pub fn excerpt(description: Option<&str>) -> Option<String> {
        description.map(|text| text.chars().take(DESCRIPTION_EXCERPT_CHARS).collect())
    }

    /// The status digest, computed from the history for version 1 events.
    pub fn digest(&self) -> StatusDigest {
        match &self.status_digest {
            Some(digest) => digest.clone(),
            None => StatusDigest::from_history(self.status_history.iter().map(|h| (h.to, h.at))),
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
    pub reached: Vec<ApplicationStatus>,
    /// When it first became APPLIED.
    pub first_applied_at: Option<DateTime<Utc>>,
    /// The first change after that to INTERVIEW, OFFER or REJECTED.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When the current status was entered (that stay is still running).
    pub current_since: Option<DateTime<Utc>>,
    /// Completed stays: status → length in [`whole_days`] → how many.
    pub stay_days: BTreeMap<ApplicationStatus, BTreeMap<i64, i64>>,
}

impl StatusDigest {
    /// Folds a history given oldest first as `(to, at)`.
    pub fn from_history(history: impl IntoIterator<Item = (ApplicationStatus, DateTime<Utc>)>) -> Self {
        use ApplicationStatus::{Applied, Interview, Offer, Rejected};
        let mut digest = Self::default();
        let mut current: Option<ApplicationStatus> = None;
        for (to, at) in history {
            if let (Some(from), Some(since)) = (current, digest.current_since) {
                *digest.stay_days.entry(from).or_default().entry(whole_days(since, at)).or_default() += 1;
            }
            if !digest.reached.contains(&to) {
                digest.reached.push(to);
            }
            if digest.first_applied_at.is_some()
                && digest.first_response_at.is_none()
                && matches!(to, Interview | Offer | Rejected)
            {
                digest.first_response_at = Some(at);
            }
            if to == Applied && digest.first_applied_at.is_none() {
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
    pub from: ApplicationStatus,
    pub to: ApplicationStatus,
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
    pub interview_type: InterviewType,
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

pub const CONTACT_CREATED: &str = "contact.created";
pub const CONTACT_UPDATED: &str = "contact.updated";
pub const CONTACT_DELETED: &str = "contact.deleted";

/// A contact as its owner wrote it (`contact.created`, `contact.updated`;
/// as it was, for `contact.deleted`). Bounded by the contact's own limits:
/// a few one-line fields, at most 10 links and 5 000 characters of notes.
/// The link to a registered user is not part of it: contacts derives that
/// from its replica of users' e-mails, and it changes without the owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSnapshot {
    pub contact_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub social_links: Vec<SocialLinkSnapshot>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `contact.created` and `contact.updated`.
pub type ContactChanged = ContactSnapshot;

/// `contact.deleted`: the contact as it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactDeleted {
    pub deleted_at: DateTime<Utc>,
    pub contact: ContactSnapshot,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialLinkSnapshot {
    pub kind: crate::social::SocialKind,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An `application.status_changed` payload as version 1 publishers wrote it
    /// (whole history), with every enum as a string.
    fn v1_status_changed() -> serde_json::Value {
        json!({
            "from": "APPLIED",
            "to": "INTERVIEW",
            "at": "2026-01-06T12:00:00Z",
            "note": "phone screen",
            "application": {
                "applicationId": "0190f3a0-0000-7000-8000-000000000001",
                "ownerId": "0190f3a0-0000-7000-8000-000000000002",
                "company": "Acme",
                "position": "Backend Engineer",
                "location": null,
                "salary": { "min": 60000, "max": 80000, "currency": "EUR", "period": "YEAR" },
                "jobUrl": null,
                "status": "INTERVIEW",
                "appliedAt": "2026-01-01T12:00:00Z",
                "createdAt": "2025-12-31T12:00:00Z",
                "updatedAt": "2026-01-06T12:00:00Z",
                "statusHistory": [
                    { "from": null, "to": "SAVED", "at": "2025-12-31T12:00:00Z", "note": null },
                    { "from": "SAVED", "to": "APPLIED", "at": "2026-01-01T12:00:00Z", "note": null },
                    { "from": "APPLIED", "to": "INTERVIEW", "at": "2026-01-06T12:00:00Z", "note": "phone screen" }
                ]
            }
        })
    }

    #[test]
    fn events_already_published_still_decode() {
        let v1: ApplicationStatusChanged = serde_json::from_value(v1_status_changed()).unwrap();
        assert_eq!((v1.from, v1.to), (ApplicationStatus::Applied, ApplicationStatus::Interview));
        assert_eq!(v1.application.salary.as_ref().map(|s| s.period), Some(SalaryPeriod::Year));
        assert_eq!(v1.application.status_history[0].from, None);

        // Version 2, as the applications store writes it today.
        let v2 = json!({
            "applicationId": "0190f3a0-0000-7000-8000-000000000001",
            "ownerId": "0190f3a0-0000-7000-8000-000000000002",
            "company": "Acme",
            "position": "Backend Engineer",
            "location": "Berlin",
            "salary": { "min": null, "max": 30, "currency": "USD", "period": "HOUR" },
            "jobUrl": "https://jobs.example.com/1",
            "status": "REJECTED",
            "appliedAt": null,
            "createdAt": "2025-12-31T12:00:00Z",
            "updatedAt": "2026-01-06T12:00:00Z",
            "statusDigest": {
                "changes": 2,
                "reached": ["SAVED", "REJECTED"],
                "firstAppliedAt": null,
                "firstResponseAt": null,
                "currentSince": "2026-01-06T12:00:00Z",
                "stayDays": { "SAVED": { "6": 1 } }
            }
        });
        let snapshot: ApplicationSnapshot = serde_json::from_value(v2.clone()).unwrap();
        let digest = snapshot.digest();
        assert_eq!(digest.reached, [ApplicationStatus::Saved, ApplicationStatus::Rejected]);
        assert_eq!(digest.stay_days[&ApplicationStatus::Saved], BTreeMap::from([(6, 1)]));
        assert_eq!(serde_json::to_value(&snapshot).unwrap(), v2, "written back with the same strings");

        let interview = json!({
            "interview": {
                "interviewId": "0190f3a0-0000-7000-8000-000000000003",
                "ownerId": "0190f3a0-0000-7000-8000-000000000002",
                "applicationId": null,
                "company": "Acme",
                "position": "Backend Engineer",
                "scheduledAt": "2026-01-08T09:00:00Z",
                "timeZone": "Europe/Paris",
                "durationMinutes": 45,
                "interviewType": "ONSITE",
                "details": null,
                "cancelled": false,
                "createdAt": "2026-01-06T12:00:00Z",
                "updatedAt": "2026-01-06T12:00:00Z"
            },
            "previousScheduledAt": null
        });
        let changed: InterviewChanged = serde_json::from_value(interview.clone()).unwrap();
        assert_eq!(changed.interview.interview_type, InterviewType::Onsite);
        assert_eq!(serde_json::to_value(&changed).unwrap(), interview);
    }

    #[test]
    fn an_unknown_value_does_not_decode_and_is_named() {
        let mut payload = v1_status_changed();
        payload["application"]["status"] = json!("ARCHIVED");
        let err = serde_json::from_value::<ApplicationStatusChanged>(payload).unwrap_err().to_string();
        assert!(err.contains("ARCHIVED"), "{err}");

        let mut payload = v1_status_changed();
        payload["application"]["salary"]["period"] = json!("WEEK");
        let err = serde_json::from_value::<ApplicationStatusChanged>(payload).unwrap_err().to_string();
        assert!(err.contains("WEEK"), "{err}");
    }

    #[test]
    fn wire_names_read_back_and_unknown_names_are_refused() {
        for status in ApplicationStatus::ALL {
            assert_eq!(status.as_str().parse::<ApplicationStatus>(), Ok(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()));
        }
        for kind in InterviewType::ALL {
            assert_eq!(kind.as_str().parse::<InterviewType>(), Ok(*kind));
        }
        for period in SalaryPeriod::ALL {
            assert_eq!(period.as_str().parse::<SalaryPeriod>(), Ok(*period));
        }
        let err = "applied".parse::<ApplicationStatus>().unwrap_err();
        assert_eq!(err.value, "applied");
        assert_eq!(
            err.to_string(),
            "unknown application status \"applied\" (expected one of SAVED, APPLIED, INTERVIEW, OFFER, REJECTED)"
        );
        assert!("VIDEO".parse::<InterviewType>().unwrap_err().to_string().contains("\"VIDEO\""));
    }

    #[test]
    fn a_digest_folds_the_history_in_order() {
        use ApplicationStatus::*;
        let at = |day: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(day);
        let digest =
            StatusDigest::from_history([(Saved, at(0)), (Applied, at(1)), (Interview, at(6)), (Applied, at(8))]);
        assert_eq!(digest.reached, [Saved, Applied, Interview]);
        assert_eq!((digest.first_applied_at, digest.first_response_at), (Some(at(1)), Some(at(6))));
        assert_eq!(digest.stay_days[&Applied], BTreeMap::from([(5, 1)]));
        assert_eq!(digest.changes, 4);
    }
}
