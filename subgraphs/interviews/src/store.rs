//! interviews' database. Every write is one transaction with its event.
//! Rows become `model::Interview` in one place, right after they are read;
//! a stored value that does not parse fails there (`kit::stored`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::contracts::{
    INTERVIEW_CANCELLED, INTERVIEW_DELETED, INTERVIEW_SCHEDULED, INTERVIEW_UPDATED, InterviewChanged, InterviewSnapshot,
};
use jobtracker_kit::events::{Envelope, Events, Outbox, Publisher};
use jobtracker_kit::pagination::{Direction, PageRequest, after_cursor};
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{IanaTimeZone, Interview, InterviewCursor, InterviewPatch, InterviewType, NewInterview};

mod tables {
    diesel::table! {
        interviews (id) {
            id -> Uuid,
            owner_id -> Uuid,
            application_id -> Nullable<Uuid>,
            company -> Text,
            position -> Text,
            scheduled_at -> Timestamptz,
            time_zone -> Text,
            duration_minutes -> Nullable<Int4>,
            interview_type -> Text,
            details -> Nullable<Text>,
            cancelled -> Bool,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            version -> Int8,
        }
    }
}
use tables::interviews;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = interviews)]
struct InterviewRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub application_id: Option<Uuid>,
    pub company: String,
    pub position: String,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: Option<i32>,
    pub interview_type: String,
    pub details: Option<String>,
    pub cancelled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<InterviewRow> for Interview {
    type Error = UnreadableValue;

    fn try_from(row: InterviewRow) -> Result<Self, UnreadableValue> {
        let column = |name| Column::new("interviews", name);
        Ok(Self {
            time_zone: IanaTimeZone::parse(&row.time_zone, "time_zone")
                .map_err(|err| column("time_zone").unreadable(row.id, Some(&row.time_zone), err))?,
            interview_type: column("interview_type").parse(row.id, &row.interview_type)?,
            id: row.id,
            owner_id: row.owner_id,
            application_id: row.application_id,
            company: row.company,
            position: row.position,
            scheduled_at: row.scheduled_at,
            duration_minutes: row.duration_minutes,
            details: row.details,
            cancelled: row.cancelled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// Rows read into interviews; the first unreadable one fails them all.
fn domain(rows: Vec<InterviewRow>) -> Result<Vec<Interview>, UnreadableValue> {
    rows.into_iter().map(Interview::try_from).collect()
}

impl Interview {
    fn snapshot(&self) -> InterviewSnapshot {
        InterviewSnapshot {
            interview_id: self.id,
            owner_id: self.owner_id,
            application_id: self.application_id,
            company: self.company.clone(),
            position: self.position.clone(),
            scheduled_at: self.scheduled_at,
            time_zone: self.time_zone.as_str().to_string(),
            duration_minutes: self.duration_minutes,
            interview_type: self.interview_type,
            details: self.details.clone(),
            cancelled: self.cancelled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn event(&self, event_type: &str, version: i64, previous_scheduled_at: Option<DateTime<Utc>>) -> Envelope {
        let payload = InterviewChanged { interview: self.snapshot(), previous_scheduled_at };
        Envelope::new(event_type, self.owner_id, self.id, version, &payload)
    }
}

/// What an interview list shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub types: Option<Vec<InterviewType>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub include_cancelled: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    publisher: Publisher,
}

impl Store {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { publisher: Publisher::new(pool.clone(), outbox), pool }
    }

    /// Schedules an interview whose company and position are settled.
    #[tracing::instrument(skip(self, new), fields(user_id = %owner))]
    pub async fn schedule(
        &self,
        owner: Uuid,
        new: NewInterview,
        company: String,
        position: String,
    ) -> AppResult<Interview> {
        let now = db::now();
        self.publisher
            .transaction(async |conn, events| -> AppResult<Interview> {
                let row: InterviewRow = diesel::insert_into(interviews::table)
                    .values((
                        interviews::id.eq(Uuid::now_v7()),
                        interviews::owner_id.eq(owner),
                        interviews::application_id.eq(new.application_id),
                        interviews::company.eq(&company),
                        interviews::position.eq(&position),
                        interviews::scheduled_at.eq(new.scheduled_at),
                        interviews::time_zone.eq(new.time_zone.as_str()),
                        interviews::duration_minutes.eq(new.duration_minutes),
                        interviews::interview_type.eq(new.interview_type.as_str()),
                        interviews::details.eq(&new.details),
                        interviews::created_at.eq(now),
                        interviews::updated_at.eq(now),
                    ))
                    .returning(InterviewRow::as_returning())
                    .get_result(conn)
                    .await?;
                let row = Interview::try_from(row)?;
                events.record(row.event(INTERVIEW_SCHEDULED, row.version, None));
                Ok(row)
            })
            .await
    }

    #[tracing::instrument(skip(self, patch), fields(user_id = %owner))]
    pub async fn update(&self, owner: Uuid, id: Uuid, patch: InterviewPatch) -> AppResult<Interview> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Interview> {
                let current = lock_owned(conn, owner, id).await?;
                let row: InterviewRow = diesel::update(interviews::table.find(id))
                    .set((
                        interviews::scheduled_at.eq(patch.scheduled_at.unwrap_or(current.scheduled_at)),
                        interviews::time_zone.eq(patch.time_zone.as_ref().unwrap_or(&current.time_zone).as_str()),
                        interviews::duration_minutes.eq(patch.duration_minutes.unwrap_or(current.duration_minutes)),
                        interviews::interview_type.eq(patch.interview_type.unwrap_or(current.interview_type).as_str()),
                        interviews::details.eq(patch.details.clone().unwrap_or(current.details.clone())),
                        interviews::updated_at.eq(db::now()),
                        interviews::version.eq(current.version + 1),
                    ))
                    .returning(InterviewRow::as_returning())
                    .get_result(conn)
                    .await?;
                let row = Interview::try_from(row)?;
                let rescheduled_from = (row.scheduled_at != current.scheduled_at).then_some(current.scheduled_at);
                events.record(row.event(INTERVIEW_UPDATED, row.version, rescheduled_from));
                Ok(row)
            })
            .await
    }

    /// Cancels; cancelling a cancelled interview changes nothing.
    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn cancel(&self, owner: Uuid, id: Uuid) -> AppResult<Interview> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Interview> {
                let current = lock_owned(conn, owner, id).await?;
                if current.cancelled {
                    return Ok(current);
                }
                let row: InterviewRow = diesel::update(interviews::table.find(id))
                    .set((
                        interviews::cancelled.eq(true),
                        interviews::updated_at.eq(db::now()),
                        interviews::version.eq(current.version + 1),
                    ))
                    .returning(InterviewRow::as_returning())
                    .get_result(conn)
                    .await?;
                let row = Interview::try_from(row)?;
                events.record(row.event(INTERVIEW_CANCELLED, row.version, None));
                Ok(row)
            })
            .await
    }

    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn delete(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<()> {
                let current = lock_owned(conn, owner, id).await?;
                delete_with_event(conn, events, &current).await
            })
            .await
    }

    /// The owner's interview; another user's is `None`, like a missing one.
    pub async fn get(&self, owner: Uuid, id: Uuid) -> AppResult<Option<Interview>> {
        let mut conn = self.pool.get().await?;
        let row = interviews::table
            .filter(interviews::id.eq(id).and(interviews::owner_id.eq(owner)))
            .select(InterviewRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(Interview::try_from).transpose()?)
    }

    /// Soonest first.
    #[tracing::instrument(skip(self, page), fields(user_id = %owner))]
    pub async fn list(
        &self,
        owner: Uuid,
        filter: &ListFilter,
        page: &PageRequest<InterviewCursor>,
    ) -> AppResult<(Vec<Interview>, i64)> {
        let mut conn = self.pool.get().await?;
        let matching = || {
            let mut query = interviews::table.filter(interviews::owner_id.eq(owner)).into_boxed();
            if let Some(types) = &filter.types {
                query = query
                    .filter(interviews::interview_type.eq_any(types.iter().map(|t| t.as_str()).collect::<Vec<_>>()));
            }
            if let Some(from) = filter.from {
                query = query.filter(interviews::scheduled_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(interviews::scheduled_at.lt(to));
            }
            if !filter.include_cancelled {
                query = query.filter(interviews::cancelled.eq(false));
            }
            query
        };
        let mut query = matching().select(InterviewRow::as_select());
        if let Some(cursor) = &page.after {
            query = query.filter(after_cursor("scheduled_at", Direction::Ascending, cursor.at, cursor.id));
        }
        let rows = query
            .order((interviews::scheduled_at.asc(), interviews::id.asc()))
            .limit(page.fetch_limit())
            .load(&mut conn)
            .await?;
        let total = matching().count().get_result(&mut conn).await?;
        Ok((domain(rows)?, total))
    }

    /// Interviews linked to any of these applications (any owner: callers check).
    pub async fn for_applications(&self, application_ids: &[Uuid]) -> AppResult<Vec<Interview>> {
        let mut conn = self.pool.get().await?;
        let rows = interviews::table
            .filter(interviews::application_id.eq_any(application_ids))
            .order((interviews::scheduled_at.asc(), interviews::id.asc()))
            .select(InterviewRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(domain(rows)?)
    }

    /// Wakes the relay once the consumer's transaction committed (see
    /// [`delete_for_application`]).
    pub fn wake_relay(&self) {
        self.publisher.wake();
    }
}

/// Deletes the owner's interviews of a deleted application, each with its
/// `interview.deleted` event (inside the consumer's transaction; the
/// consumer wakes the relay after its commit).
pub async fn delete_for_application(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    application_id: Uuid,
) -> AppResult<usize> {
    Publisher::within(conn, async |conn, events| -> AppResult<usize> {
        let linked = domain(
            interviews::table
                .filter(interviews::application_id.eq(application_id).and(interviews::owner_id.eq(owner)))
                .select(InterviewRow::as_select())
                .for_update()
                .load(conn)
                .await?,
        )?;
        for interview in &linked {
            delete_with_event(conn, events, interview).await?;
        }
        Ok(linked.len())
    })
    .await
}

async fn delete_with_event(conn: &mut AsyncPgConnection, events: &mut Events, interview: &Interview) -> AppResult<()> {
    diesel::delete(interviews::table.find(interview.id)).execute(conn).await?;
    events.record(interview.event(INTERVIEW_DELETED, interview.version + 1, None));
    Ok(())
}

async fn lock_owned(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> AppResult<Interview> {
    let row = interviews::table
        .filter(interviews::id.eq(id).and(interviews::owner_id.eq(owner)))
        .select(InterviewRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("interview"))?;
    Ok(row.try_into()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> InterviewRow {
        let now = db::now();
        InterviewRow {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            application_id: None,
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            scheduled_at: now,
            time_zone: "Europe/Paris".into(),
            duration_minutes: Some(45),
            interview_type: "ONSITE".into(),
            details: None,
            cancelled: false,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn a_row_becomes_an_interview() {
        let interview = Interview::try_from(row()).unwrap();
        assert_eq!(interview.interview_type, InterviewType::Onsite);
        assert_eq!(interview.time_zone.as_str(), "Europe/Paris");
        assert_eq!(interview.snapshot().interview_type, InterviewType::Onsite);
    }

    #[test]
    fn an_unknown_stored_type_is_an_error_naming_it_not_online() {
        let err = Interview::try_from(InterviewRow { interview_type: "VIDEO".into(), ..row() }).unwrap_err();
        assert_eq!(
            (err.column.table, err.column.name, err.value.as_deref()),
            ("interviews", "interview_type", Some("VIDEO"))
        );
        assert!(
            err.to_string()
                .contains("interviews.interview_type of row 00000000-0000-0000-0000-000000000000 is \"VIDEO\"")
        );
    }

    #[test]
    fn an_unknown_stored_time_zone_is_an_error_naming_it() {
        let err = Interview::try_from(InterviewRow { time_zone: "Mars/Olympus".into(), ..row() }).unwrap_err();
        assert!(err.to_string().contains("interviews.time_zone") && err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
