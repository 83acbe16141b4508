//! applications' database: applications and their status history. Every
//! write is one transaction that also appends its event to the outbox.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_EVENTS_VERSION, APPLICATION_STATUS_CHANGED,
    APPLICATION_UPDATED, ApplicationDeleted, ApplicationSnapshot, ApplicationStatusChanged, SalarySnapshot,
    StatusDigest,
};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::pagination::PageRequest;
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{
    ApplicationCursor, ApplicationOrder, ApplicationPatch, ApplicationStatus, NewApplication, Salary, applied_at,
};

mod tables {
    diesel::table! {
        applications (id) {
            id -> Uuid,
            owner_id -> Uuid,
            company -> Text,
            position -> Text,
            location -> Nullable<Text>,
            salary_min -> Nullable<Int4>,
            salary_max -> Nullable<Int4>,
            salary_currency -> Nullable<Text>,
            salary_period -> Nullable<Text>,
            job_description -> Nullable<Text>,
            job_url -> Nullable<Text>,
            status -> Text,
            applied_at -> Nullable<Timestamptz>,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            version -> Int8,
        }
    }
    diesel::table! {
        status_changes (id) {
            id -> Int8,
            application_id -> Uuid,
            from_status -> Nullable<Text>,
            to_status -> Text,
            changed_at -> Timestamptz,
            note -> Nullable<Text>,
        }
    }
}
use tables::{applications, status_changes};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary_min: Option<i32>,
    pub salary_max: Option<i32>,
    pub salary_currency: Option<String>,
    pub salary_period: Option<String>,
    pub job_description: Option<String>,
    pub job_url: Option<String>,
    pub status: String,
    pub applied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = status_changes)]
pub struct StatusChangeRow {
    pub application_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_at: DateTime<Utc>,
    pub note: Option<String>,
}

/// What a list shows: the owner's applications, optionally by status and text.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub statuses: Option<Vec<ApplicationStatus>>,
    /// A LIKE pattern over `search_text` (see `model::search_pattern`).
    pub search: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    publisher: Publisher,
}

fn salary_columns(salary: Option<&Salary>) -> (Option<i32>, Option<i32>, Option<String>, Option<String>) {
    match salary {
        Some(s) => (s.min, s.max, Some(s.currency.as_str().to_string()), Some(s.period.as_str().to_string())),
        None => (None, None, None, None),
    }
}

impl Store {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { publisher: Publisher::new(pool.clone(), outbox), pool }
    }

    #[tracing::instrument(skip(self, new), fields(user_id = %owner))]
    pub async fn create(&self, owner: Uuid, new: NewApplication) -> AppResult<ApplicationRow> {
        self.create_at(owner, new, db::now()).await
    }

    /// `create` at a given time (demo data spread over months).
    pub async fn create_at(&self, owner: Uuid, new: NewApplication, now: DateTime<Utc>) -> AppResult<ApplicationRow> {
        let id = Uuid::now_v7();
        let (salary_min, salary_max, salary_currency, salary_period) = salary_columns(new.salary.as_ref());
        self.publisher
            .transaction(async |conn, events| -> AppResult<ApplicationRow> {
                let row: ApplicationRow = diesel::insert_into(applications::table)
                    .values((
                        applications::id.eq(id),
                        applications::owner_id.eq(owner),
                        applications::company.eq(&new.company),
                        applications::position.eq(&new.position),
                        applications::location.eq(&new.location),
                        applications::salary_min.eq(salary_min),
                        applications::salary_max.eq(salary_max),
                        applications::salary_currency.eq(&salary_currency),
                        applications::salary_period.eq(&salary_period),
                        applications::job_description.eq(&new.job_description),
                        applications::job_url.eq(new.job_url.as_ref().map(|u| u.as_str())),
                        applications::status.eq(new.status.as_str()),
                        applications::applied_at.eq(applied_at(None, new.status, now)),
                        applications::created_at.eq(now),
                        applications::updated_at.eq(now),
                    ))
                    .returning(ApplicationRow::as_returning())
                    .get_result(conn)
                    .await?;
                record_status(conn, id, None, new.status, now, None).await?;
                let snapshot = snapshot(conn, &row).await?;
                events.record(event(APPLICATION_CREATED, owner, id, row.version, &snapshot));
                Ok(row)
            })
            .await
    }

    #[tracing::instrument(skip(self, patch), fields(user_id = %owner))]
    pub async fn update(&self, owner: Uuid, id: Uuid, patch: ApplicationPatch) -> AppResult<ApplicationRow> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<ApplicationRow> {
                let current = lock_owned(conn, owner, id).await?;
                let salary = match &patch.salary {
                    Some(salary) => salary_columns(salary.as_ref()),
                    None => (
                        current.salary_min,
                        current.salary_max,
                        current.salary_currency.clone(),
                        current.salary_period.clone(),
                    ),
                };
                let row: ApplicationRow = diesel::update(applications::table.find(id))
                    .set((
                        applications::company.eq(patch.company.clone().unwrap_or(current.company)),
                        applications::position.eq(patch.position.clone().unwrap_or(current.position)),
                        applications::location.eq(patch.location.clone().unwrap_or(current.location)),
                        applications::salary_min.eq(salary.0),
                        applications::salary_max.eq(salary.1),
                        applications::salary_currency.eq(salary.2),
                        applications::salary_period.eq(salary.3),
                        applications::job_description
                            .eq(patch.job_description.clone().unwrap_or(current.job_description)),
                        applications::job_url.eq(match &patch.job_url {
                            Some(url) => url.as_ref().map(|u| u.as_str().to_string()),
                            None => current.job_url,
                        }),
                        applications::updated_at.eq(db::now()),
                        applications::version.eq(current.version + 1),
                    ))
                    .returning(ApplicationRow::as_returning())
                    .get_result(conn)
                    .await?;
                let snapshot = snapshot(conn, &row).await?;
                events.record(event(APPLICATION_UPDATED, owner, id, row.version, &snapshot));
                Ok(row)
            })
            .await
    }

    /// Moves the application to `status`, recording the change. Moving to the
    /// current status is a no-op (safe to retry).
    #[tracing::instrument(skip(self, note), fields(user_id = %owner))]
    pub async fn change_status(
        &self,
        owner: Uuid,
        id: Uuid,
        status: ApplicationStatus,
        note: Option<String>,
    ) -> AppResult<ApplicationRow> {
        self.change_status_at(owner, id, status, note, db::now()).await
    }

    pub async fn change_status_at(
        &self,
        owner: Uuid,
        id: Uuid,
        status: ApplicationStatus,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> AppResult<ApplicationRow> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<ApplicationRow> {
                let current = lock_owned(conn, owner, id).await?;
                let from = ApplicationStatus::from_stored(&current.status);
                if from == status {
                    return Ok(current);
                }
                let row: ApplicationRow = diesel::update(applications::table.find(id))
                    .set((
                        applications::status.eq(status.as_str()),
                        applications::applied_at.eq(applied_at(current.applied_at, status, now)),
                        applications::updated_at.eq(now),
                        applications::version.eq(current.version + 1),
                    ))
                    .returning(ApplicationRow::as_returning())
                    .get_result(conn)
                    .await?;
                record_status(conn, id, Some(from), status, now, note.clone()).await?;
                let change = ApplicationStatusChanged {
                    from: from.as_str().into(),
                    to: status.as_str().into(),
                    at: now,
                    note,
                    application: snapshot(conn, &row).await?,
                };
                events.record(event(APPLICATION_STATUS_CHANGED, owner, id, row.version, &change));
                Ok(row)
            })
            .await
    }

    #[tracing::instrument(skip(self), fields(user_id = %owner))]
    pub async fn delete(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<()> {
                let current = lock_owned(conn, owner, id).await?;
                let deleted =
                    ApplicationDeleted { deleted_at: db::now(), application: snapshot(conn, &current).await? };
                diesel::delete(applications::table.find(id)).execute(conn).await?;
                events.record(event(APPLICATION_DELETED, owner, id, current.version + 1, &deleted));
                Ok(())
            })
            .await
    }

    /// The owner's application; another user's is `None`, like a missing one.
    pub async fn get(&self, owner: Uuid, id: Uuid) -> AppResult<Option<ApplicationRow>> {
        let mut conn = self.pool.get().await?;
        Ok(applications::table
            .filter(applications::id.eq(id).and(applications::owner_id.eq(owner)))
            .select(ApplicationRow::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Rows by id (any owner: callers check ownership), for batched loads.
    pub async fn by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<ApplicationRow>> {
        let mut conn = self.pool.get().await?;
        Ok(applications::table
            .filter(applications::id.eq_any(ids))
            .select(ApplicationRow::as_select())
            .load(&mut conn)
            .await?)
    }

    /// One page of the owner's applications, and how many match in all.
    #[tracing::instrument(skip(self, page), fields(user_id = %owner))]
    pub async fn list(
        &self,
        owner: Uuid,
        filter: &ListFilter,
        order: ApplicationOrder,
        page: &PageRequest<ApplicationCursor>,
    ) -> AppResult<(Vec<ApplicationRow>, i64)> {
        let mut conn = self.pool.get().await?;
        let matching = || {
            let mut query = applications::table.filter(applications::owner_id.eq(owner)).into_boxed();
            if let Some(statuses) = &filter.statuses {
                query =
                    query.filter(applications::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
            }
            if let Some(pattern) = &filter.search {
                // `search_text` is a generated column (see the migration); diesel
                // tables stop at 16 columns, so it is named here, not declared.
                query =
                    query.filter(sql::<Bool>("search_text LIKE ").bind::<Text, _>(pattern.clone()).sql(" ESCAPE '\\'"));
            }
            query
        };
        let mut query = matching().select(ApplicationRow::as_select());
        if let Some(cursor) = &page.after {
            if cursor.order != order {
                return Err(AppError::bad_input("after", "this cursor belongs to another order"));
            }
            // Row comparison, so PostgreSQL walks the order's index from the cursor.
            let (column, op) = match order {
                ApplicationOrder::Newest => ("created_at", "<"),
                ApplicationOrder::Oldest => ("created_at", ">"),
                ApplicationOrder::RecentlyUpdated => ("updated_at", "<"),
            };
            query = query.filter(
                sql::<Bool>(&format!("({column}, id) {op} ("))
                    .bind::<Timestamptz, _>(cursor.at)
                    .sql(", ")
                    .bind::<SqlUuid, _>(cursor.id)
                    .sql(")"),
            );
        }
        query = match order {
            ApplicationOrder::Newest => query.order((applications::created_at.desc(), applications::id.desc())),
            ApplicationOrder::Oldest => query.order((applications::created_at.asc(), applications::id.asc())),
            ApplicationOrder::RecentlyUpdated => {
                query.order((applications::updated_at.desc(), applications::id.desc()))
            }
        };
        let rows = query.limit(page.fetch_limit()).load(&mut conn).await?;
        let total = matching().count().get_result(&mut conn).await?;
        Ok((rows, total))
    }

    /// Status histories of several applications, oldest change first.
    pub async fn histories(&self, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Vec<StatusChangeRow>>> {
        let mut conn = self.pool.get().await?;
        let rows: Vec<StatusChangeRow> = status_changes::table
            .filter(status_changes::application_id.eq_any(ids))
            .order((status_changes::application_id, status_changes::id))
            .select(StatusChangeRow::as_select())
            .load(&mut conn)
            .await?;
        let mut by_application: HashMap<Uuid, Vec<StatusChangeRow>> = HashMap::new();
        for row in rows {
            by_application.entry(row.application_id).or_default().push(row);
        }
        Ok(by_application)
    }
}

/// Locks the owner's application for update; another user's is NOT_FOUND.
async fn lock_owned(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> AppResult<ApplicationRow> {
    applications::table
        .filter(applications::id.eq(id).and(applications::owner_id.eq(owner)))
        .select(ApplicationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("application"))
}

async fn record_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    from: Option<ApplicationStatus>,
    to: ApplicationStatus,
    at: DateTime<Utc>,
    note: Option<String>,
) -> QueryResult<usize> {
    diesel::insert_into(status_changes::table)
        .values((
            status_changes::application_id.eq(id),
            status_changes::from_status.eq(from.map(|s| s.as_str())),
            status_changes::to_status.eq(to.as_str()),
            status_changes::changed_at.eq(at),
            status_changes::note.eq(note),
        ))
        .execute(conn)
        .await
}

/// An `application.*` event (the current payload version).
fn event(event_type: &str, owner: Uuid, id: Uuid, version: i64, payload: &impl serde::Serialize) -> Envelope {
    Envelope::new(event_type, owner, id, version, payload).with_version(APPLICATION_EVENTS_VERSION)
}

/// The application as published in events: its fields and the digest of
/// its status history (not the history itself, whose notes would make every
/// event grow with the number of changes).
async fn snapshot(conn: &mut AsyncPgConnection, row: &ApplicationRow) -> QueryResult<ApplicationSnapshot> {
    let history: Vec<(String, DateTime<Utc>)> = status_changes::table
        .filter(status_changes::application_id.eq(row.id))
        .order(status_changes::id)
        .select((status_changes::to_status, status_changes::changed_at))
        .load(conn)
        .await?;
    Ok(ApplicationSnapshot {
        application_id: row.id,
        owner_id: row.owner_id,
        company: row.company.clone(),
        position: row.position.clone(),
        location: row.location.clone(),
        salary: row.salary_currency.clone().map(|currency| SalarySnapshot {
            min: row.salary_min,
            max: row.salary_max,
            currency,
            period: row.salary_period.clone().unwrap_or_else(|| "YEAR".into()),
        }),
        job_url: row.job_url.clone(),
        status: row.status.clone(),
        applied_at: row.applied_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        status_history: Vec::new(),
        status_digest: Some(StatusDigest::from_history(history.iter().map(|(to, at)| (to.as_str(), *at)))),
    })
}
