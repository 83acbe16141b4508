//! Rules of notifications: preferences and their bounds, which reminders an
//! interview gets, what a status change tells its owner, and the one clock
//! everything here reads. No I/O here.

use chrono::{DateTime, Duration, Utc};
use jobtracker_kit::AppError;
use jobtracker_kit::events::contracts::ApplicationStatusChanged;
use uuid::Uuid;

pub const DEFAULT_REMINDER_MINUTES: [i32; 2] = [1440, 60];
/// Channels a user has until they choose: in the app and by e-mail (every
/// account has its address). SMS is opted into: not every profile has a phone.
pub const DEFAULT_CHANNELS: [Channel; 2] = [Channel::InApp, Channel::Email];
pub const MAX_REMINDERS: usize = 5;
/// A week.
pub const MAX_MINUTES_BEFORE: i32 = 10_080;
/// A reminder due this long ago when it is planned still goes out (an
/// interview scheduled at the last minute gets its "now" reminder).
pub const LATE_GRACE: Duration = Duration::seconds(60);

#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(name = "NotificationChannel")]
pub enum Channel {
    #[graphql(name = "IN_APP")]
    InApp,
    #[graphql(name = "EMAIL")]
    Email,
    #[graphql(name = "SMS")]
    Sms,
}

#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "NotificationKind")]
pub enum Kind {
    #[graphql(name = "INTERVIEW_REMINDER")]
    InterviewReminder,
    #[graphql(name = "APPLICATION_UPDATE")]
    ApplicationUpdate,
    #[graphql(name = "SYSTEM")]
    System,
}

/// Stored names (the GraphQL names): written with `as_str`, read with `parse`.
macro_rules! stored_names {
    ($name:ident { $($variant:ident = $wire:literal),+ }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, String> {
                match value { $($wire => Ok(Self::$variant),)+ _ => Err(format!("not a {}", stringify!($name))) }
            }
        }
    };
}
stored_names!(Channel { InApp = "IN_APP", Email = "EMAIL", Sms = "SMS" });
stored_names!(Kind { InterviewReminder = "INTERVIEW_REMINDER", ApplicationUpdate = "APPLICATION_UPDATE", System = "SYSTEM" });

/// What the user chose (or the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preferences {
    pub channels: Vec<Channel>,
    pub reminder_minutes_before: Vec<i32>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self { channels: DEFAULT_CHANNELS.to_vec(), reminder_minutes_before: DEFAULT_REMINDER_MINUTES.to_vec() }
    }
}

impl Preferences {
    /// `current` changed by an input (an absent field keeps its value):
    /// channels without repeats; 0 to 5 reminders, each 0 to 10 080 minutes,
    /// kept in descending order without repeats.
    pub fn changed(
        current: &Preferences,
        channels: Option<Vec<Channel>>,
        minutes: Option<Vec<i32>>,
    ) -> Result<Self, AppError> {
        let mut channels = channels.unwrap_or_else(|| current.channels.clone());
        channels.sort();
        channels.dedup();
        let mut minutes = match minutes {
            None => current.reminder_minutes_before.clone(),
            Some(minutes) if minutes.len() > MAX_REMINDERS => {
                return Err(AppError::bad_input(
                    "input.reminderMinutesBefore",
                    format!("at most {MAX_REMINDERS} reminders"),
                ));
            }
            Some(minutes) => minutes,
        };
        if let Some(bad) = minutes.iter().position(|m| !(0..=MAX_MINUTES_BEFORE).contains(m)) {
            return Err(AppError::bad_input(
                format!("input.reminderMinutesBefore.{bad}"),
                format!("each reminder is 0 to {MAX_MINUTES_BEFORE} minutes before the interview"),
            ));
        }
        minutes.sort_unstable_by(|a, b| b.cmp(a));
        minutes.dedup();
        Ok(Self { channels, reminder_minutes_before: minutes })
    }
}

/// An interview as notifications knows it (from `interview.*`).
#[derive(Clone, Debug, PartialEq)]
pub struct Interview {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub company: String,
    pub position: String,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: String,
    /// Neither cancelled nor deleted.
    pub active: bool,
}

/// One thing to deliver on one channel at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub owner_id: Uuid,
    pub kind: Kind,
    pub channel: Channel,
    pub interview_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub minutes_before: Option<i32>,
    pub due_at: DateTime<Utc>,
    pub title: String,
    pub body: String,
    pub idempotency_key: String,
}

/// The reminders of `interview` under `preferences` at `now`: one per time
/// before and channel, except those already past (beyond `LATE_GRACE`);
/// none for an interview that is cancelled, deleted or has begun.
pub fn reminders(interview: &Interview, preferences: &Preferences, now: DateTime<Utc>) -> Vec<Planned> {
    if !interview.active || interview.scheduled_at <= now {
        return Vec::new();
    }
    let mut planned = Vec::new();
    for &minutes in &preferences.reminder_minutes_before {
        let due_at = interview.scheduled_at - Duration::minutes(i64::from(minutes));
        if due_at < now - LATE_GRACE {
            continue;
        }
        for &channel in &preferences.channels {
            planned.push(Planned {
                owner_id: interview.owner_id,
                kind: Kind::InterviewReminder,
                channel,
                interview_id: Some(interview.id),
                application_id: None,
                minutes_before: Some(minutes),
                due_at,
                title: format!("Interview with {} {}", interview.company, in_words(minutes)),
                body: format!("{} — {}, {}", interview.company, interview.position, local_time(interview)),
                idempotency_key: format!(
                    "reminder:{}:{}:{minutes}:{}",
                    interview.id,
                    interview.scheduled_at.timestamp(),
                    channel.as_str()
                ),
            });
        }
    }
    planned
}

/// "in 1 day", "in 1 hour", "in 90 minutes", "now".
fn in_words(minutes: i32) -> String {
    match minutes {
        0 => "now".into(),
        m if m % 1440 == 0 => plural(m / 1440, "day"),
        m if m % 60 == 0 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    }
}

fn plural(n: i32, unit: &str) -> String {
    if n == 1 { format!("in 1 {unit}") } else { format!("in {n} {unit}s") }
}

/// The interview's time in its own time zone ("Tue 1 Dec 2026, 14:30 (Europe/Paris)");
/// in UTC when the stored zone is unknown.
pub fn local_time(interview: &Interview) -> String {
    match interview.time_zone.parse::<chrono_tz::Tz>() {
        Ok(zone) => {
            format!("{} ({})", interview.scheduled_at.with_timezone(&zone).format("%a %-d %b %Y, %H:%M"), zone.name())
        }
        Err(_) => format!("{} (UTC)", interview.scheduled_at.format("%a %-d %b %Y, %H:%M")),
    }
}

/// The in-app notice of a status change (event `event_id`):
/// "Acme — Backend Engineer: applied → interview".
pub fn status_notice(event_id: Uuid, changed: &ApplicationStatusChanged, now: DateTime<Utc>) -> Planned {
    let application = &changed.application;
    let (company, position) = (&application.company, &application.position);
    let from = changed.from.as_str().to_lowercase();
    let to = changed.to.as_str().to_lowercase();
    Planned {
        owner_id: application.owner_id,
        kind: Kind::ApplicationUpdate,
        channel: Channel::InApp,
        interview_id: None,
        application_id: Some(application.application_id),
        minutes_before: None,
        due_at: now,
        title: format!("{company}: {to}"),
        body: format!("{company} — {position}: {from} → {to}"),
        idempotency_key: format!("status:{event_id}:IN_APP"),
    }
}

/// The one clock of this service: the system's, moved by
/// `NOTIFICATIONS_CLOCK_SKEW_SECS` so that tests and drills can see an hour
/// pass in a second. Planning and the worker both read it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    pub skew: Duration,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        jobtracker_kit::db::now() + self.skew
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interview(at: DateTime<Utc>) -> Interview {
        Interview {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            scheduled_at: at,
            time_zone: "Europe/Paris".into(),
            active: true,
        }
    }

    #[test]
    fn one_reminder_per_time_and_channel_and_none_in_the_past() {
        let now = Utc::now();
        let prefs =
            Preferences { channels: vec![Channel::InApp, Channel::Email], reminder_minutes_before: vec![1440, 60] };
        let tomorrow = reminders(&interview(now + Duration::hours(30)), &prefs, now);
        assert_eq!(tomorrow.len(), 4);
        // 2 hours ahead: the day-before reminder has passed.
        let soon = reminders(&interview(now + Duration::hours(2)), &prefs, now);
        assert_eq!(soon.iter().map(|p| p.minutes_before).collect::<Vec<_>>(), [Some(60), Some(60)]);
        assert_eq!(soon[0].due_at, now + Duration::hours(1));
        // Scheduled 60 minutes and 30 seconds ahead with [60]: due 30 s ago, still sent.
        let late = reminders(&interview(now + Duration::seconds(3630)), &Preferences::default(), now);
        assert_eq!(late.iter().map(|p| p.channel).collect::<Vec<_>>(), [Channel::InApp, Channel::Email]);
        let begun = interview(now - Duration::minutes(1));
        assert!(reminders(&begun, &prefs, now).is_empty());
        let cancelled = Interview { active: false, ..interview(now + Duration::hours(30)) };
        assert!(reminders(&cancelled, &prefs, now).is_empty());
    }

    #[test]
    fn reminders_read_well_and_show_the_interviews_own_time() {
        let at: DateTime<Utc> = "2026-12-01T13:30:00Z".parse().unwrap();
        let planned = reminders(&interview(at), &Preferences::default(), at - Duration::days(2));
        assert_eq!(planned[0].title, "Interview with Acme in 1 day");
        assert_eq!(planned[2].title, "Interview with Acme in 1 hour");
        assert_eq!(planned[0].body, "Acme — Backend Engineer, Tue 1 Dec 2026, 14:30 (Europe/Paris)");
        assert_ne!(planned[0].idempotency_key, planned[1].idempotency_key);
        assert_eq!(in_words(90), "in 90 minutes");
        assert_eq!(in_words(0), "now");
    }

    #[test]
    fn preferences_are_bounded_and_tidied() {
        let current = Preferences::default();
        let field = |minutes: Vec<i32>| {
            Preferences::changed(&current, None, Some(minutes)).unwrap_err().field().map(str::to_string)
        };
        assert_eq!(field(vec![1, 2, 3, 4, 5, 6]).as_deref(), Some("input.reminderMinutesBefore"));
        assert_eq!(field(vec![60, -1]).as_deref(), Some("input.reminderMinutesBefore.1"));
        assert_eq!(field(vec![10_081]).as_deref(), Some("input.reminderMinutesBefore.0"));
        let tidy = Preferences::changed(
            &current,
            Some(vec![Channel::Email, Channel::InApp, Channel::Email]),
            Some(vec![60, 1440, 60, 0]),
        )
        .unwrap();
        assert_eq!(tidy.channels, [Channel::InApp, Channel::Email]);
        assert_eq!(tidy.reminder_minutes_before, [1440, 60, 0]);
        let kept = Preferences::changed(&tidy, None, None).unwrap();
        assert_eq!(kept, tidy);
    }

    #[test]
    fn a_status_change_reads_as_a_sentence() {
        use jobtracker_kit::events::contracts::{ApplicationSnapshot, ApplicationStatus};
        let now = Utc::now();
        let application = ApplicationSnapshot {
            application_id: Uuid::nil(),
            owner_id: Uuid::nil(),
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            location: None,
            salary: None,
            job_url: None,
            description_excerpt: None,
            status: ApplicationStatus::Interview,
            applied_at: None,
            created_at: now,
            updated_at: now,
            status_history: Vec::new(),
            status_digest: None,
        };
        let changed = ApplicationStatusChanged {
            from: ApplicationStatus::Applied,
            to: ApplicationStatus::Interview,
            at: now,
            note: None,
            application,
        };
        assert_eq!(status_notice(Uuid::nil(), &changed, now).body, "Acme — Backend Engineer: applied → interview");
    }
}
