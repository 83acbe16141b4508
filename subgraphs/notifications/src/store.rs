//! notifications' database: preferences, the replica of interviews, the
//! delivery schedule and the in-app notifications. Planning writes run in
//! the consumer's transaction (with its idempotency record); the worker
//! claims due deliveries with `FOR UPDATE SKIP LOCKED`, so replicas never
//! take the same one.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::pagination::{Direction, PageRequest, after_cursor};
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Channel, Clock, Interview, Kind, Planned, Preferences, reminders};

mod tables {
    diesel::table! {
        preferences (user_id) {
            user_id -> Uuid,
            channels -> Array<Text>,
            reminder_minutes_before -> Array<Int4>,
            updated_at -> Timestamptz,
        }
    }
    diesel::table! {
        interviews (interview_id) {
            interview_id -> Uuid,
            owner_id -> Uuid,
            company -> Text,
            position -> Text,
            scheduled_at -> Timestamptz,
            time_zone -> Text,
            active -> Bool,
            version -> Int8,
        }
    }
    // The schedule as planning and in-app delivery see it…
    diesel::table! {
        deliveries (id) {
            id -> Uuid,
            owner_id -> Uuid,
            kind -> Text,
            channel -> Text,
            interview_id -> Nullable<Uuid>,
            application_id -> Nullable<Uuid>,
            minutes_before -> Nullable<Int4>,
            due_at -> Timestamptz,
            title -> Text,
            body -> Text,
            state -> Text,
            attempts -> Int4,
            sent_at -> Nullable<Timestamptz>,
            idempotency_key -> Text,
        }
    }
    // …and as senders to other servers see it (diesel's tables stop at 16 columns).
    diesel::table! {
        #[sql_name = "deliveries"]
        sending (id) {
            id -> Uuid,
            owner_id -> Uuid,
            channel -> Text,
            state -> Text,
            due_at -> Timestamptz,
            title -> Text,
            body -> Text,
            idempotency_key -> Text,
            attempts -> Int4,
            last_error -> Nullable<Text>,
            sent_at -> Nullable<Timestamptz>,
            lease_until -> Nullable<Timestamptz>,
            attempted_at -> Nullable<Timestamptz>,
            next_attempt_at -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        recipients (user_id) {
            user_id -> Uuid,
            email -> Text,
            full_name -> Text,
            phone -> Nullable<Text>,
            version -> Int8,
        }
    }
    diesel::table! {
        notifications (id) {
            id -> Uuid,
            owner_id -> Uuid,
            kind -> Text,
            title -> Text,
            body -> Text,
            interview_id -> Nullable<Uuid>,
            application_id -> Nullable<Uuid>,
            created_at -> Timestamptz,
            read_at -> Nullable<Timestamptz>,
            delivery_id -> Uuid,
        }
    }
}
use tables::{deliveries, interviews, notifications, preferences, recipients, sending};

const PENDING: &str = "PENDING";
const SENT: &str = "SENT";
const FAILED: &str = "FAILED";
const UNCONFIRMED: &str = "UNCONFIRMED";

/// A due delivery leased to one sender for another server (e-mail).
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sending)]
pub struct Job {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub body: String,
    pub idempotency_key: String,
    pub attempts: i32,
}

/// Where a user's e-mails and SMS go.
#[derive(Clone, Debug, PartialEq, Queryable)]
pub struct Recipient {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
}

/// An in-app notification, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub interview_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct NotificationRow {
    id: Uuid,
    owner_id: Uuid,
    kind: String,
    title: String,
    body: String,
    interview_id: Option<Uuid>,
    application_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = UnreadableValue;

    fn try_from(row: NotificationRow) -> Result<Self, UnreadableValue> {
        Ok(Notification {
            kind: Column::new("notifications", "kind").parse(row.id, &row.kind)?,
            id: row.id,
            owner_id: row.owner_id,
            title: row.title,
            body: row.body,
            interview_id: row.interview_id,
            application_id: row.application_id,
            created_at: row.created_at,
            read_at: row.read_at,
        })
    }
}

/// Position in the list (newest first).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NotificationCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Publishes `notification.created`, which every replica's subscribers hear.
    publisher: Publisher,
}

/// An in-app notification was delivered: what `notificationReceived` pushes on.
pub const NOTIFICATION_CREATED: &str = "notification.created";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationCreated {
    notification_id: Uuid,
}

impl Store {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { publisher: Publisher::new(pool.clone(), outbox), pool }
    }

    /// The viewer's oldest notification created after `after` (`None`: none since).
    pub async fn next_after(&self, owner: Uuid, after: &NotificationCursor) -> AppResult<Option<Notification>> {
        let mut conn = self.pool.get().await?;
        let row = notifications::table
            .filter(notifications::owner_id.eq(owner))
            .filter(after_cursor("created_at", Direction::Ascending, after.at, after.id))
            .order((notifications::created_at.asc(), notifications::id.asc()))
            .select(NotificationRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(Notification::try_from).transpose()?)
    }

    pub async fn preferences(&self, user: Uuid) -> AppResult<Preferences> {
        let mut conn = self.pool.get().await?;
        preferences_of(&mut conn, user).await
    }

    /// Stores the user's preferences and re-plans their pending reminders.
    #[tracing::instrument(skip(self, chosen), fields(user_id = %user))]
    pub async fn set_preferences(&self, user: Uuid, chosen: &Preferences, clock: Clock) -> AppResult<()> {
        let channels: Vec<&str> = chosen.channels.iter().map(|c| c.as_str()).collect();
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<()> {
            diesel::insert_into(preferences::table)
                .values((
                    preferences::user_id.eq(user),
                    preferences::channels.eq(&channels),
                    preferences::reminder_minutes_before.eq(&chosen.reminder_minutes_before),
                    preferences::updated_at.eq(db::now()),
                ))
                .on_conflict(preferences::user_id)
                .do_update()
                .set((
                    preferences::channels.eq(&channels),
                    preferences::reminder_minutes_before.eq(&chosen.reminder_minutes_before),
                    preferences::updated_at.eq(db::now()),
                ))
                .execute(conn)
                .await?;
            let active: Vec<InterviewRow> = interviews::table
                .filter(interviews::owner_id.eq(user).and(interviews::active))
                .select(InterviewRow::as_select())
                .load(conn)
                .await?;
            for row in active {
                replan(conn, &row.into(), chosen, clock).await?;
            }
            Ok(())
        })
        .await
    }

    /// One page of the viewer's notifications, newest first, and how many.
    pub async fn list(
        &self,
        owner: Uuid,
        unread_only: bool,
        page: &PageRequest<NotificationCursor>,
    ) -> AppResult<(Vec<Notification>, i64)> {
        let mut conn = self.pool.get().await?;
        let matching = || {
            let mut query = notifications::table.filter(notifications::owner_id.eq(owner)).into_boxed();
            if unread_only {
                query = query.filter(notifications::read_at.is_null());
            }
            query
        };
        let mut query = matching().select(NotificationRow::as_select());
        if let Some(cursor) = &page.after {
            query = query.filter(after_cursor("created_at", Direction::Descending, cursor.at, cursor.id));
        }
        let rows = query
            .order((notifications::created_at.desc(), notifications::id.desc()))
            .limit(page.fetch_limit())
            .load(&mut conn)
            .await?;
        let total = matching().count().get_result(&mut conn).await?;
        let listed = rows.into_iter().map(Notification::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok((listed, total))
    }

    pub async fn unread_count(&self, owner: Uuid) -> AppResult<i64> {
        let mut conn = self.pool.get().await?;
        Ok(notifications::table
            .filter(notifications::owner_id.eq(owner).and(notifications::read_at.is_null()))
            .count()
            .get_result(&mut conn)
            .await?)
    }

    /// Marks the owner's notification read (kept when already read); another
    /// user's is NOT_FOUND.
    pub async fn mark_read(&self, owner: Uuid, id: Uuid) -> AppResult<Notification> {
        let mut conn = self.pool.get().await?;
        let row: NotificationRow = diesel::update(notifications::table)
            .filter(notifications::id.eq(id).and(notifications::owner_id.eq(owner)))
            .set(notifications::read_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(read_at, now())")))
            .returning(NotificationRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound("notification"))?;
        Ok(Notification::try_from(row)?)
    }

    /// Marks every unread notification of the owner read; how many were.
    pub async fn mark_all_read(&self, owner: Uuid) -> AppResult<i64> {
        let mut conn = self.pool.get().await?;
        let changed = diesel::update(notifications::table)
            .filter(notifications::owner_id.eq(owner).and(notifications::read_at.is_null()))
            .set(notifications::read_at.eq(db::now()))
            .execute(&mut conn)
            .await?;
        Ok(changed as i64)
    }

    /// Delivers up to `limit` due in-app deliveries: each claimed under
    /// `SKIP LOCKED`, its notification written and the delivery marked sent
    /// in one transaction, so a delivery becomes exactly one notification
    /// whatever replicas or crashes do. Returns what was delivered.
    pub async fn deliver_in_app(&self, now: DateTime<Utc>, limit: i64) -> AppResult<Vec<Notification>> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Vec<Notification>> {
                let due: Vec<DueRow> = deliveries::table
                    .filter(deliveries::state.eq(PENDING))
                    .filter(deliveries::channel.eq(Channel::InApp.as_str()))
                    .filter(deliveries::due_at.le(now))
                    .select(DueRow::as_select())
                    .order(deliveries::due_at)
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                let mut delivered = Vec::with_capacity(due.len());
                for row in due {
                    let written: NotificationRow = diesel::insert_into(notifications::table)
                        .values((
                            notifications::id.eq(Uuid::now_v7()),
                            notifications::owner_id.eq(row.owner_id),
                            notifications::kind.eq(&row.kind),
                            notifications::title.eq(&row.title),
                            notifications::body.eq(&row.body),
                            notifications::interview_id.eq(row.interview_id),
                            notifications::application_id.eq(row.application_id),
                            notifications::created_at.eq(db::now()),
                            notifications::delivery_id.eq(row.id),
                        ))
                        .returning(NotificationRow::as_returning())
                        .get_result(conn)
                        .await?;
                    diesel::update(deliveries::table.find(row.id))
                        .set((
                            deliveries::state.eq(SENT),
                            deliveries::sent_at.eq(db::now()),
                            deliveries::attempts.eq(deliveries::attempts + 1),
                        ))
                        .execute(conn)
                        .await?;
                    let created = NotificationCreated { notification_id: written.id };
                    events.record(Envelope::new(NOTIFICATION_CREATED, written.owner_id, written.id, 1, &created));
                    delivered.push(Notification::try_from(written)?);
                }
                Ok(delivered)
            })
            .await
    }

    /// Leases up to `limit` due deliveries of `channel` for `lease`: rows not
    /// attempted, not waiting for a retry, not leased by a live sender.
    pub async fn lease(
        &self,
        channel: Channel,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> AppResult<Vec<Job>> {
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<Vec<Job>> {
            let ids: Vec<Uuid> = sending::table
                .filter(sending::state.eq(PENDING).and(sending::channel.eq(channel.as_str())))
                .filter(sending::due_at.le(now).and(sending::attempted_at.is_null()))
                .filter(sending::lease_until.is_null().or(sending::lease_until.lt(now)))
                .filter(sending::next_attempt_at.is_null().or(sending::next_attempt_at.le(now)))
                .select(sending::id)
                .order(sending::due_at)
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            Ok(diesel::update(sending::table.filter(sending::id.eq_any(&ids)))
                .set(sending::lease_until.eq(now + lease))
                .returning(Job::as_returning())
                .get_results(conn)
                .await?)
        })
        .await
    }

    pub async fn recipient(&self, user: Uuid) -> AppResult<Option<Recipient>> {
        let mut conn = self.pool.get().await?;
        Ok(recipients::table
            .find(user)
            .select((recipients::email, recipients::full_name, recipients::phone))
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Records that the job is being handed over, just before it is: from here
    /// on it is never sent again. False when it was recorded already.
    pub async fn record_attempt(&self, id: Uuid) -> AppResult<bool> {
        let mut conn = self.pool.get().await?;
        let recorded = diesel::update(sending::table.find(id).filter(sending::attempted_at.is_null()))
            .set(sending::attempted_at.eq(db::now()))
            .execute(&mut conn)
            .await?;
        Ok(recorded == 1)
    }

    pub async fn mark_sent(&self, id: Uuid) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        diesel::update(sending::table.find(id))
            .set((sending::state.eq(SENT), sending::sent_at.eq(db::now()), sending::attempts.eq(sending::attempts + 1)))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// The attempt was refused: again at `retry_at`, or FAILED for good when `None`.
    pub async fn attempt_failed(&self, id: Uuid, error: &str, retry_at: Option<DateTime<Utc>>) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        let state = if retry_at.is_some() { PENDING } else { FAILED };
        diesel::update(sending::table.find(id))
            .set((
                sending::state.eq(state),
                sending::attempts.eq(sending::attempts + 1),
                sending::last_error.eq(error),
                sending::attempted_at.eq(None::<DateTime<Utc>>),
                sending::lease_until.eq(None::<DateTime<Utc>>),
                sending::next_attempt_at.eq(retry_at),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Rows whose attempt was recorded but whose sender's lease ran out
    /// without marking them (it died between handing over and recording):
    /// UNCONFIRMED, so never a second e-mail. Returns how many.
    pub async fn settle_unconfirmed(&self, now: DateTime<Utc>) -> AppResult<usize> {
        let mut conn = self.pool.get().await?;
        Ok(diesel::update(sending::table)
            .filter(sending::state.eq(PENDING).and(sending::attempted_at.is_not_null()))
            .filter(sending::lease_until.lt(now))
            .set((
                sending::state.eq(UNCONFIRMED),
                sending::last_error
                    .eq("the sender stopped between handing the message over and recording it; not sent again"),
            ))
            .execute(&mut conn)
            .await?)
    }

    /// Reminders still pending when their interview has begun (every replica
    /// was down until after it) are not sent: EXPIRED. Returns how many.
    pub async fn expire_begun(&self, now: DateTime<Utc>) -> AppResult<usize> {
        let mut conn = self.pool.get().await?;
        Ok(diesel::sql_query(
            "UPDATE deliveries SET state = 'EXPIRED', last_error = 'the interview had begun' \
             WHERE state = 'PENDING' AND attempted_at IS NULL AND minutes_before IS NOT NULL \
               AND due_at + make_interval(mins => minutes_before) <= $1",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .execute(&mut conn)
        .await?)
    }

    /// Retention: deletes deliveries done (sent or failed) and notifications
    /// read before `before`; unread notifications stay until read. Returns
    /// how many rows went.
    pub async fn prune(&self, before: DateTime<Utc>) -> AppResult<usize> {
        let mut conn = self.pool.get().await?;
        let deliveries =
            diesel::delete(deliveries::table.filter(deliveries::state.ne(PENDING).and(deliveries::due_at.lt(before))))
                .execute(&mut conn)
                .await?;
        let read =
            diesel::delete(notifications::table.filter(notifications::read_at.lt(before))).execute(&mut conn).await?;
        Ok(deliveries + read)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct DueRow {
    id: Uuid,
    owner_id: Uuid,
    kind: String,
    title: String,
    body: String,
    interview_id: Option<Uuid>,
    application_id: Option<Uuid>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = interviews)]
struct InterviewRow {
    interview_id: Uuid,
    owner_id: Uuid,
    company: String,
    position: String,
    scheduled_at: DateTime<Utc>,
    time_zone: String,
    active: bool,
}

impl From<InterviewRow> for Interview {
    fn from(row: InterviewRow) -> Self {
        Interview {
            id: row.interview_id,
            owner_id: row.owner_id,
            company: row.company,
            position: row.position,
            scheduled_at: row.scheduled_at,
            time_zone: row.time_zone,
            active: row.active,
        }
    }
}

async fn preferences_of(conn: &mut AsyncPgConnection, user: Uuid) -> AppResult<Preferences> {
    let stored: Option<(Vec<String>, Vec<i32>)> = preferences::table
        .find(user)
        .select((preferences::channels, preferences::reminder_minutes_before))
        .first(conn)
        .await
        .optional()?;
    let Some((channels, minutes)) = stored else { return Ok(Preferences::default()) };
    let column = Column::new("preferences", "channels");
    let channels = channels.iter().map(|c| column.parse(user, c)).collect::<Result<Vec<Channel>, _>>()?;
    Ok(Preferences { channels, reminder_minutes_before: minutes })
}

/// Records the user's address and name as of `version` (an older event
/// changes nothing). Runs in the consumer's transaction.
pub async fn remember_recipient(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    email: &str,
    full_name: &str,
    phone: Option<&str>,
    version: i64,
) -> AppResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO recipients (user_id, email, full_name, phone, version) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, full_name = excluded.full_name, \
         phone = excluded.phone, version = excluded.version WHERE recipients.version < excluded.version",
    )
    .bind::<diesel::sql_types::Uuid, _>(user)
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Text, _>(full_name)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(phone)
    .bind::<diesel::sql_types::BigInt, _>(version)
    .execute(conn)
    .await?;
    Ok(changed > 0)
}

/// Records the interview as of `version` (an older event changes nothing) and
/// re-plans its pending reminders. Runs in the consumer's transaction.
/// Returns whether the replica changed.
pub async fn remember_interview(
    conn: &mut AsyncPgConnection,
    interview: &Interview,
    version: i64,
    clock: Clock,
) -> AppResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO interviews (interview_id, owner_id, company, position, scheduled_at, time_zone, active, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (interview_id) DO UPDATE SET \
         company = excluded.company, position = excluded.position, scheduled_at = excluded.scheduled_at, \
         time_zone = excluded.time_zone, active = excluded.active, version = excluded.version \
         WHERE interviews.version < excluded.version",
    )
    .bind::<diesel::sql_types::Uuid, _>(interview.id)
    .bind::<diesel::sql_types::Uuid, _>(interview.owner_id)
    .bind::<diesel::sql_types::Text, _>(&interview.company)
    .bind::<diesel::sql_types::Text, _>(&interview.position)
    .bind::<diesel::sql_types::Timestamptz, _>(interview.scheduled_at)
    .bind::<diesel::sql_types::Text, _>(&interview.time_zone)
    .bind::<diesel::sql_types::Bool, _>(interview.active)
    .bind::<diesel::sql_types::BigInt, _>(version)
    .execute(conn)
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    let chosen = preferences_of(conn, interview.owner_id).await?;
    replan(conn, interview, &chosen, clock).await?;
    Ok(true)
}

/// Replaces the interview's pending reminders with those `chosen` plans now;
/// what was sent stays sent (its idempotency key keeps it from coming again).
async fn replan(
    conn: &mut AsyncPgConnection,
    interview: &Interview,
    chosen: &Preferences,
    clock: Clock,
) -> AppResult<()> {
    diesel::delete(
        deliveries::table.filter(deliveries::interview_id.eq(interview.id).and(deliveries::state.eq(PENDING))),
    )
    .execute(conn)
    .await?;
    for planned in reminders(interview, chosen, clock.now()) {
        schedule(conn, &planned).await?;
    }
    Ok(())
}

/// Adds one delivery unless one with its idempotency key exists.
pub async fn schedule(conn: &mut AsyncPgConnection, planned: &Planned) -> AppResult<()> {
    diesel::insert_into(deliveries::table)
        .values((
            deliveries::id.eq(Uuid::now_v7()),
            deliveries::owner_id.eq(planned.owner_id),
            deliveries::kind.eq(planned.kind.as_str()),
            deliveries::channel.eq(planned.channel.as_str()),
            deliveries::interview_id.eq(planned.interview_id),
            deliveries::application_id.eq(planned.application_id),
            deliveries::minutes_before.eq(planned.minutes_before),
            deliveries::due_at.eq(planned.due_at),
            deliveries::title.eq(&planned.title),
            deliveries::body.eq(&planned.body),
            deliveries::idempotency_key.eq(&planned.idempotency_key),
        ))
        .on_conflict(deliveries::idempotency_key)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}
