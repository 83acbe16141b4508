//! applications' database: applications and their status history. Every
//! write is one transaction that also appends its event to the outbox. Rows
//! become domain types (`model::Application`, `model::StatusChange`) in one
//! place each, right after they are read; a stored value that does not parse
//! fails there (`kit::stored`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::{self, Pool};
use jobtracker_kit::events::contracts::{
    APPLICATION_CREATED, APPLICATION_DELETED, APPLICATION_EVENTS_VERSION, APPLICATION_STATUS_CHANGED,
    APPLICATION_UPDATED, ApplicationDeleted, ApplicationSnapshot, ApplicationStatusChanged, SalarySnapshot,
    StatusDigest,
};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::pagination::{Direction, PageRequest, after_cursor};
use jobtracker_kit::stored::{Column, UnreadableValue};
use jobtracker_kit::validate::HttpUrl;
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{
    Application, ApplicationCursor, ApplicationOrder, ApplicationPatch, ApplicationStatus, CurrencyCode,
    NewApplication, Salary, StatusChange, applied_at,
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
struct ApplicationRow {
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
struct StatusChangeRow {
    pub id: i64,
    pub application_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_at: DateTime<Utc>,
    pub note: Option<String>,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = UnreadableValue;

    fn try_from(row: ApplicationRow) -> Result<Self, UnreadableValue> {
        let column = |name| Column::new("applications", name);
        // The four salary columns are written together (`salary_columns`).
        let salary = match (row.salary_currency.as_deref(), row.salary_period.as_deref()) {
            (Some(currency), Some(period)) => Some(Salary {
                min: row.salary_min,
                max: row.salary_max,
                currency: CurrencyCode::from_stored(currency)
                    .map_err(|reason| column("salary_currency").unreadable(row.id, Some(currency), reason))?,
                period: column("salary_period").parse(row.id, period)?,
            }),
            (None, None) if row.salary_min.is_none() && row.salary_max.is_none() => None,
            (None, _) => return Err(column("salary_currency").unreadable(row.id, None, "a salary needs a currency")),
            (Some(_), None) => return Err(column("salary_period").unreadable(row.id, None, "a salary needs a period")),
        };
        let job_url = row
            .job_url
            .as_deref()
            .map(|url| {
                HttpUrl::parse(url, "job_url").map_err(|err| column("job_url").unreadable(row.id, Some(url), err))
            })
            .transpose()?;
        Ok(Self {
            status: column("status").parse(row.id, &row.status)?,
            id: row.id,
            owner_id: row.owner_id,
            company: row.company,
            position: row.position,
            location: row.location,
            salary,
            job_description: row.job_description,
            job_url,
            applied_at: row.applied_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

impl TryFrom<StatusChangeRow> for StatusChange {
    type Error = UnreadableValue;

    fn try_from(row: StatusChangeRow) -> Result<Self, UnreadableValue> {
        let column = |name| Column::new("status_changes", name);
        Ok(Self {
            application_id: row.application_id,
            from: row.from_status.as_deref().map(|from| column("from_status").parse(row.id, from)).transpose()?,
            to: column("to_status").parse(row.id, &row.to_status)?,
            at: row.changed_at,
            note: row.note,
        })
    }
}

/// Rows read into domain values; the first unreadable one fails them all.
fn domain<R, T: TryFrom<R, Error = UnreadableValue>>(rows: Vec<R>) -> Result<Vec<T>, UnreadableValue> {
    rows.into_iter().map(T::try_from).collect()
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
    pub async fn create(&self, owner: Uuid, new: NewApplication) -> AppResult<Application> {
        self.create_at(owner, new, db::now()).await
    }

    /// `create` at a given time (demo data spread over months).
    pub async fn create_at(&self, owner: Uuid, new: NewApplication, now: DateTime<Utc>) -> AppResult<Application> {
        let id = Uuid::now_v7();
        let (salary_min, salary_max, salary_currency, salary_period) = salary_columns(new.salary.as_ref());
        self.publisher
            .transaction(async |conn, events| -> AppResult<Application> {
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
                let row = Application::try_from(row)?;
                record_status(conn, id, None, new.status, now, None).await?;
                let snapshot = snapshot(conn, &row).await?;
                events.record(event(APPLICATION_CREATED, owner, id, row.version, &snapshot));
                Ok(row)
            })
            .await
    }

    #[tracing::instrument(skip(self, patch), fields(user_id = %owner))]
    pub async fn update(&self, owner: Uuid, id: Uuid, patch: ApplicationPatch) -> AppResult<Application> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Application> {
                let current = lock_owned(conn, owner, id).await?;
                let salary = salary_columns(patch.salary.as_ref().unwrap_or(&current.salary).as_ref());
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
                        applications::job_url.eq(patch
                            .job_url
                            .as_ref()
                            .unwrap_or(&current.job_url)
                            .as_ref()
                            .map(|u| u.as_str())),
                        applications::updated_at.eq(db::now()),
                        applications::version.eq(current.version + 1),
                    ))
                    .returning(ApplicationRow::as_returning())
                    .get_result(conn)
                    .await?;
                let row = Application::try_from(row)?;
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
    ) -> AppResult<Application> {
        self.change_status_at(owner, id, status, note, db::now()).await
    }

    pub async fn change_status_at(
        &self,
        owner: Uuid,
        id: Uuid,
        status: ApplicationStatus,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> AppResult<Application> {
        self.publisher
            .transaction(async |conn, events| -> AppResult<Application> {
                let current = lock_owned(conn, owner, id).await?;
                let from = current.status;
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
                let row = Application::try_from(row)?;
                record_status(conn, id, Some(from), status, now, note.clone()).await?;
                let change = ApplicationStatusChanged {
                    from,
                    to: status,
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
    pub async fn get(&self, owner: Uuid, id: Uuid) -> AppResult<Option<Application>> {
        let mut conn = self.pool.get().await?;
        let row = applications::table
            .filter(applications::id.eq(id).and(applications::owner_id.eq(owner)))
            .select(ApplicationRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(Application::try_from).transpose()?)
    }

    /// Rows by id (any owner: callers check ownership), for batched loads.
    pub async fn by_ids(&self, ids: &[Uuid]) -> AppResult<Vec<Application>> {
        let mut conn = self.pool.get().await?;
        let rows = applications::table
            .filter(applications::id.eq_any(ids))
            .select(ApplicationRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(domain(rows)?)
    }

    /// One page of the owner's applications, and how many match in all.
    #[tracing::instrument(skip(self, page), fields(user_id = %owner))]
    pub async fn list(
        &self,
        owner: Uuid,
        filter: &ListFilter,
        order: ApplicationOrder,
        page: &PageRequest<ApplicationCursor>,
    ) -> AppResult<(Vec<Application>, i64)> {
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
            let (column, direction) = match order {
                ApplicationOrder::Newest => ("created_at", Direction::Descending),
                ApplicationOrder::Oldest => ("created_at", Direction::Ascending),
                ApplicationOrder::RecentlyUpdated => ("updated_at", Direction::Descending),
            };
            query = query.filter(after_cursor(column, direction, cursor.at, cursor.id));
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
        Ok((domain(rows)?, total))
    }

    /// Status histories of several applications, oldest change first.
    pub async fn histories(&self, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Vec<StatusChange>>> {
        let mut conn = self.pool.get().await?;
        let rows: Vec<StatusChangeRow> = status_changes::table
            .filter(status_changes::application_id.eq_any(ids))
            .order((status_changes::application_id, status_changes::id))
            .select(StatusChangeRow::as_select())
            .load(&mut conn)
            .await?;
        let mut by_application: HashMap<Uuid, Vec<StatusChange>> = HashMap::new();
        for change in domain::<_, StatusChange>(rows)? {
            by_application.entry(change.application_id).or_default().push(change);
        }
        Ok(by_application)
    }
}

/// Locks the owner's application for update; another user's is NOT_FOUND.
async fn lock_owned(conn: &mut AsyncPgConnection, owner: Uuid, id: Uuid) -> AppResult<Application> {
    let row = applications::table
        .filter(applications::id.eq(id).and(applications::owner_id.eq(owner)))
        .select(ApplicationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("application"))?;
    Ok(row.try_into()?)
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
async fn snapshot(conn: &mut AsyncPgConnection, row: &Application) -> AppResult<ApplicationSnapshot> {
    let history: Vec<(i64, String, DateTime<Utc>)> = status_changes::table
        .filter(status_changes::application_id.eq(row.id))
        .order(status_changes::id)
        .select((status_changes::id, status_changes::to_status, status_changes::changed_at))
        .load(conn)
        .await?;
    let to_status = Column::new("status_changes", "to_status");
    let history = history
        .iter()
        .map(|(id, to, at)| Ok((to_status.parse(id, to)?, *at)))
        .collect::<Result<Vec<_>, UnreadableValue>>()?;
    Ok(ApplicationSnapshot {
        application_id: row.id,
        owner_id: row.owner_id,
        company: row.company.clone(),
        position: row.position.clone(),
        location: row.location.clone(),
        salary: row.salary.as_ref().map(|salary| SalarySnapshot {
            min: salary.min,
            max: salary.max,
            currency: salary.currency.as_str().to_string(),
            period: salary.period,
        }),
        job_url: row.job_url.as_ref().map(|url| url.as_str().to_string()),
        description_excerpt: ApplicationSnapshot::excerpt(row.job_description.as_deref()),
        status: row.status,
        applied_at: row.applied_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        status_history: Vec::new(),
        status_digest: Some(StatusDigest::from_history(history)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SalaryPeriod;

    fn row() -> ApplicationRow {
        let now = db::now();
        ApplicationRow {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            location: None,
            salary_min: Some(60_000),
            salary_max: None,
            salary_currency: Some("EUR".into()),
            salary_period: Some("MONTH".into()),
            job_description: None,
            job_url: Some("https://jobs.example.com/1".into()),
            status: "APPLIED".into(),
            applied_at: Some(now),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    fn unreadable(row: ApplicationRow) -> String {
        Application::try_from(row).unwrap_err().to_string()
    }

    #[test]
    fn a_row_becomes_an_application() {
        let application = Application::try_from(row()).unwrap();
        assert_eq!(application.status, ApplicationStatus::Applied);
        let salary = application.salary.unwrap();
        assert_eq!((salary.currency.as_str(), salary.period), ("EUR", SalaryPeriod::Month));
        assert_eq!(application.job_url.unwrap().as_str(), "https://jobs.example.com/1");
        let no_salary = ApplicationRow { salary_min: None, salary_currency: None, salary_period: None, ..row() };
        assert_eq!(Application::try_from(no_salary).unwrap().salary, None);
    }

    #[test]
    fn an_unknown_stored_status_is_an_error_naming_it_not_a_panic() {
        let err = unreadable(ApplicationRow { status: "ARCHIVED".into(), ..row() });
        assert!(
            err.contains("applications.status of row 00000000-0000-0000-0000-000000000000 is \"ARCHIVED\""),
            "{err}"
        );
    }

    #[test]
    fn a_salary_period_is_never_made_up() {
        let err = unreadable(ApplicationRow { salary_period: Some("WEEK".into()), ..row() });
        assert!(err.contains("applications.salary_period") && err.contains("\"WEEK\""), "{err}");
        let err = unreadable(ApplicationRow { salary_period: None, ..row() });
        assert!(err.contains("applications.salary_period") && err.contains("is NULL"), "{err}");
        let err = unreadable(ApplicationRow { salary_currency: None, ..row() });
        assert!(err.contains("applications.salary_currency") && err.contains("is NULL"), "{err}");
        let err = unreadable(ApplicationRow { salary_currency: Some("euro".into()), ..row() });
        assert!(err.contains("applications.salary_currency") && err.contains("\"euro\""), "{err}");
    }

    #[test]
    fn a_stored_job_url_must_still_be_http() {
        let err = unreadable(ApplicationRow { job_url: Some("javascript:alert(1)".into()), ..row() });
        assert!(err.contains("applications.job_url") && err.contains("javascript:alert(1)"), "{err}");
    }

    #[test]
    fn an_unknown_status_in_the_history_is_an_error_naming_it() {
        let change = |from: Option<&str>, to: &str| StatusChangeRow {
            id: 7,
            application_id: Uuid::nil(),
            from_status: from.map(str::to_string),
            to_status: to.into(),
            changed_at: db::now(),
            note: None,
        };
        let ok = StatusChange::try_from(change(Some("SAVED"), "OFFER")).unwrap();
        assert_eq!((ok.from, ok.to), (Some(ApplicationStatus::Saved), ApplicationStatus::Offer));
        let err = StatusChange::try_from(change(None, "Offer")).unwrap_err().to_string();
        assert!(err.contains("status_changes.to_status of row 7 is \"Offer\""), "{err}");
        let err = StatusChange::try_from(change(Some("GHOSTED"), "OFFER")).unwrap_err().to_string();
        assert!(err.contains("status_changes.from_status of row 7 is \"GHOSTED\""), "{err}");
    }
}
