//! Rules of an interview: its time (stored in UTC, shown with the IANA time
//! zone it was scheduled in), its kind, its length. No I/O here.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use jobtracker_kit::AppError;
use jobtracker_kit::validate::{optional_line, optional_text, parse_id};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DETAILS_CHARS: usize = 10_000;
pub const MAX_DURATION_MINUTES: i32 = 24 * 60;

// Shared with every service that reads interview events (kit).
pub use jobtracker_kit::events::contracts::InterviewType;

/// A valid IANA time zone name (`Europe/Paris`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IanaTimeZone(String);

impl IanaTimeZone {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        chrono_tz::Tz::from_str(name)
            .map(|tz| Self(tz.name().to_string()))
            .map_err(|_| AppError::bad_input(field, format!("{raw:?} is not an IANA time zone (e.g. Europe/Paris)")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn duration(minutes: Option<i32>, field: &str) -> Result<Option<i32>, AppError> {
    match minutes {
        Some(m) if !(1..=MAX_DURATION_MINUTES).contains(&m) => {
            Err(AppError::bad_input(field, format!("duration must be 1 to {MAX_DURATION_MINUTES} minutes")))
        }
        other => Ok(other),
    }
}

pub fn details(raw: Option<&str>, field: &str) -> Result<Option<String>, AppError> {
    optional_text(raw, field, MAX_DETAILS_CHARS)
}

/// A scheduled interview, as stored (the store builds it from its row).
#[derive(Clone, Debug, PartialEq)]
pub struct Interview {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub application_id: Option<Uuid>,
    pub company: String,
    pub position: String,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: IanaTimeZone,
    pub duration_minutes: Option<i32>,
    pub interview_type: InterviewType,
    pub details: Option<String>,
    pub cancelled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change (the events' aggregate version).
    pub version: i64,
}

/// An interview to schedule, validated; company and position may still come
/// from the linked application.
#[derive(Clone, Debug)]
pub struct NewInterview {
    pub company: Option<String>,
    pub position: Option<String>,
    pub application_id: Option<Uuid>,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: IanaTimeZone,
    pub duration_minutes: Option<i32>,
    pub interview_type: InterviewType,
    pub details: Option<String>,
}

pub struct RawNewInterview {
    pub company: Option<String>,
    pub position: Option<String>,
    pub application_id: Option<String>,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: Option<i32>,
    pub interview_type: InterviewType,
    pub details: Option<String>,
}

impl NewInterview {
    pub fn parse(raw: RawNewInterview) -> Result<Self, AppError> {
        let application_id =
            raw.application_id.map(|id| parse_id(&id, "input.applicationId", "an application")).transpose()?;
        let company = optional_line(raw.company.as_deref(), "input.company", MAX_NAME_CHARS)?;
        let position = optional_line(raw.position.as_deref(), "input.position", MAX_NAME_CHARS)?;
        if application_id.is_none() {
            if company.is_none() {
                return Err(AppError::bad_input("input.company", "company is required when no application is linked"));
            }
            if position.is_none() {
                return Err(AppError::bad_input(
                    "input.position",
                    "position is required when no application is linked",
                ));
            }
        }
        Ok(Self {
            company,
            position,
            application_id,
            scheduled_at: raw.scheduled_at,
            time_zone: IanaTimeZone::parse(&raw.time_zone, "input.timeZone")?,
            duration_minutes: duration(raw.duration_minutes, "input.durationMinutes")?,
            interview_type: raw.interview_type,
            details: details(raw.details.as_deref(), "input.details")?,
        })
    }
}

/// A validated change: `None` keeps; for optional fields `Some(None)` clears.
#[derive(Clone, Debug, Default)]
pub struct InterviewPatch {
    pub scheduled_at: Option<DateTime<Utc>>,
    pub time_zone: Option<IanaTimeZone>,
    pub duration_minutes: Option<Option<i32>>,
    pub interview_type: Option<InterviewType>,
    pub details: Option<Option<String>>,
}

/// The window of a list: `[from, to)`.
pub fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), AppError> {
    match (from, to) {
        (Some(from), Some(to)) if to <= from => Err(AppError::bad_input("filter.to", "to must be after from")),
        _ => Ok(()),
    }
}

/// Position in the soonest-first list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterviewCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawNewInterview {
        RawNewInterview {
            company: Some("Acme".into()),
            position: Some("Engineer".into()),
            application_id: None,
            scheduled_at: Utc::now(),
            time_zone: "Europe/Paris".into(),
            duration_minutes: Some(45),
            interview_type: InterviewType::Online,
            details: None,
        }
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert_eq!(IanaTimeZone::parse(" America/New_York ", "tz").unwrap().as_str(), "America/New_York");
        assert!(IanaTimeZone::parse("UTC", "tz").is_ok());
        for bad in ["Mars/Olympus", "CET+5", "", "Europe/paris/x"] {
            assert_eq!(
                IanaTimeZone::parse(bad, "input.timeZone").unwrap_err().field(),
                Some("input.timeZone"),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(duration(Some(0), "d").unwrap_err().field(), Some("d"));
        assert!(duration(Some(1441), "d").is_err());
        assert_eq!(duration(Some(90), "d").unwrap(), Some(90));
        assert_eq!(duration(None, "d").unwrap(), None);
    }

    #[test]
    fn company_and_position_are_needed_without_an_application() {
        let err = NewInterview::parse(RawNewInterview { company: None, ..raw() }).unwrap_err();
        assert_eq!(err.field(), Some("input.company"));
        let err = NewInterview::parse(RawNewInterview { position: Some(" ".into()), ..raw() }).unwrap_err();
        assert_eq!(err.field(), Some("input.position"));
        let linked = RawNewInterview {
            company: None,
            position: None,
            application_id: Some(Uuid::now_v7().to_string()),
            ..raw()
        };
        assert!(NewInterview::parse(linked).is_ok());
        let bad_id = RawNewInterview { application_id: Some("42".into()), ..raw() };
        assert_eq!(NewInterview::parse(bad_id).unwrap_err().field(), Some("input.applicationId"));
    }

    #[test]
    fn ranges_are_half_open_and_ordered() {
        let now = Utc::now();
        assert!(check_range(Some(now), Some(now + chrono::Duration::hours(1))).is_ok());
        assert_eq!(check_range(Some(now), Some(now)).unwrap_err().field(), Some("filter.to"));
        assert!(check_range(None, Some(now)).is_ok());
    }
}
