//! applications' part of the supergraph: `Application` (owned here), its
//! queries and mutations. Every operation is the viewer's own: another
//! user's application is NOT_FOUND, in lists it does not exist.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, Schema, SchemaBuilder, SimpleObject};
use chrono::{DateTime, Utc};
use jobtracker_kit::graphql::{optional_viewer, require_viewer};
use jobtracker_kit::pagination::{self, CountedConnection, PageRequest};
use jobtracker_kit::validate::{self, Patch};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{
    self, ApplicationCursor, ApplicationOrder, ApplicationPatch, ApplicationStatus, NewApplication,
    RawApplicationPatch, RawNewApplication, RawSalary, SalaryPeriod,
};
use crate::store::{ListFilter, Store};

pub type ApplicationsSchema = Schema<Query, Mutation, async_graphql::EmptySubscription>;

/// Batches the status histories of the applications in one response.
pub struct HistoryLoader(pub Store);

impl Loader<Uuid> for HistoryLoader {
    type Value = Vec<model::StatusChange>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(self.0.histories(keys).await?)
    }
}

/// Batches applications asked for by reference (`_entities`).
pub struct ApplicationLoader(pub Store);

impl Loader<Uuid> for ApplicationLoader {
    type Value = model::Application;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(self.0.by_ids(keys).await?.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// A job application.
pub struct Application(pub model::Application);

#[derive(SimpleObject)]
#[graphql(name = "Salary")]
pub struct SalaryView {
    pub min: Option<i32>,
    pub max: Option<i32>,
    /// ISO 4217.
    pub currency: String,
    pub period: SalaryPeriod,
}

#[derive(SimpleObject)]
pub struct StatusChange {
    /// None for the creation entry.
    pub from: Option<ApplicationStatus>,
    pub to: ApplicationStatus,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// A job application.
#[Object]
impl Application {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn company(&self) -> &str {
        &self.0.company
    }
    async fn position(&self) -> &str {
        &self.0.position
    }
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    async fn salary(&self) -> Option<SalaryView> {
        self.0.salary.as_ref().map(|salary| SalaryView {
            min: salary.min,
            max: salary.max,
            currency: salary.currency.as_str().to_string(),
            period: salary.period,
        })
    }
    /// Up to 50 000 characters.
    async fn job_description(&self) -> Option<&str> {
        self.0.job_description.as_deref()
    }
    async fn job_url(&self) -> Option<&str> {
        self.0.job_url.as_ref().map(|url| url.as_str())
    }
    async fn status(&self) -> ApplicationStatus {
        self.0.status
    }
    /// Every status change, oldest first, creation included.
    async fn status_history(&self, ctx: &Context<'_>) -> Result<Vec<StatusChange>> {
        let history = ctx.data_unchecked::<DataLoader<HistoryLoader>>().load_one(self.0.id).await?.unwrap_or_default();
        Ok(history.into_iter().map(|h| StatusChange { from: h.from, to: h.to, at: h.at, note: h.note }).collect())
    }
    /// First time the status became APPLIED.
    async fn applied_at(&self) -> Option<DateTime<Utc>> {
        self.0.applied_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct SalaryInput {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub currency: String,
    pub period: SalaryPeriod,
}

impl From<SalaryInput> for RawSalary {
    fn from(s: SalaryInput) -> Self {
        Self { min: s.min, max: s.max, currency: s.currency, period: s.period }
    }
}

#[derive(InputObject)]
pub struct CreateApplicationInput {
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary: Option<SalaryInput>,
    pub job_description: Option<String>,
    pub job_url: Option<String>,
    #[graphql(default_with = "Some(ApplicationStatus::Saved)")]
    pub status: Option<ApplicationStatus>,
}

/// Every field optional: absent keeps, null clears (company and position cannot be cleared).
#[derive(InputObject)]
pub struct UpdateApplicationInput {
    pub company: MaybeUndefined<String>,
    pub position: MaybeUndefined<String>,
    pub location: MaybeUndefined<String>,
    pub salary: MaybeUndefined<SalaryInput>,
    pub job_description: MaybeUndefined<String>,
    pub job_url: MaybeUndefined<String>,
}

#[derive(InputObject, Default)]
pub struct ApplicationFilter {
    /// Any of these statuses.
    pub status: Option<Vec<ApplicationStatus>>,
    /// Case-insensitive partial match on company or position.
    pub search: Option<String>,
}

fn parse_id(id: &ID, field: &str) -> AppResult<Uuid> {
    validate::parse_id(id, field, "an application")
}

fn store<'a>(ctx: &Context<'a>) -> &'a Store {
    ctx.data_unchecked::<Store>()
}

pub struct Query;

#[Object]
impl Query {
    /// One of the viewer's applications; NOT_FOUND for a missing or another user's.
    async fn application(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Application>> {
        let viewer = require_viewer(ctx)?;
        let row =
            store(ctx).get(viewer.user_id, parse_id(&id, "id")?).await?.ok_or(AppError::NotFound("application"))?;
        Ok(Some(Application(row)))
    }

    /// The viewer's applications.
    async fn applications(
        &self,
        ctx: &Context<'_>,
        filter: Option<ApplicationFilter>,
        #[graphql(default_with = "Some(ApplicationOrder::Newest)")] order_by: Option<ApplicationOrder>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CountedConnection<Application>> {
        let viewer = require_viewer(ctx)?;
        let order_by = order_by.unwrap_or_default();
        let page = PageRequest::<ApplicationCursor>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let list_filter = ListFilter {
            statuses: filter.status.filter(|s| !s.is_empty()),
            search: filter.search.as_deref().map(model::search_pattern).transpose()?.flatten(),
        };
        let (rows, total) = store(ctx).list(viewer.user_id, &list_filter, order_by, &page).await?;
        let key = move |row: &model::Application| ApplicationCursor {
            order: order_by,
            at: if order_by == ApplicationOrder::RecentlyUpdated { row.updated_at } else { row.created_at },
            id: row.id,
        };
        Ok(pagination::connection(rows, &page, total, key, Application))
    }

    /// Resolves references from other subgraphs: only the viewer's own.
    #[graphql(entity)]
    async fn find_application_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Application>> {
        let (Some(viewer), Ok(id)) = (optional_viewer(ctx), Uuid::parse_str(&id)) else { return Ok(None) };
        let row = ctx.data_unchecked::<DataLoader<ApplicationLoader>>().load_one(id).await?;
        Ok(row.filter(|r| r.owner_id == viewer.user_id).map(Application))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn create_application(&self, ctx: &Context<'_>, input: CreateApplicationInput) -> Result<Application> {
        let viewer = require_viewer(ctx)?;
        let new = NewApplication::parse(RawNewApplication {
            company: input.company,
            position: input.position,
            location: input.location,
            salary: input.salary.map(Into::into),
            job_description: input.job_description,
            job_url: input.job_url,
            status: input.status.unwrap_or(ApplicationStatus::Saved),
        })?;
        Ok(Application(store(ctx).create(viewer.user_id, new).await?))
    }

    async fn update_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApplicationInput,
    ) -> Result<Application> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        let patch = ApplicationPatch::parse(RawApplicationPatch {
            company: input.company.into(),
            position: input.position.into(),
            location: input.location.into(),
            salary: Patch::from(input.salary).map(Into::into),
            job_description: input.job_description.into(),
            job_url: input.job_url.into(),
        })?;
        Ok(Application(store(ctx).update(viewer.user_id, id, patch).await?))
    }

    /// Moves the application to `status` and records it in the history.
    async fn change_application_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: ApplicationStatus,
        note: Option<String>,
    ) -> Result<Application> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        let note = model::parse_note(note.as_deref())?;
        Ok(Application(store(ctx).change_status(viewer.user_id, id, status, note).await?))
    }

    /// Deletes the application (its interviews follow); returns its id.
    async fn delete_application(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        store(ctx).delete(viewer.user_id, id).await?;
        // The canonical form, as every other answer writes it.
        Ok(ID(id.to_string()))
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, async_graphql::EmptySubscription> {
    Schema::build(Query, Mutation, async_graphql::EmptySubscription)
        .enable_federation()
        .extension(async_graphql::extensions::Tracing)
}

/// The schema with its data: the store and the per-request batch loaders.
pub fn schema(store: Store) -> ApplicationsSchema {
    schema_builder()
        .data(DataLoader::new(HistoryLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(ApplicationLoader(store.clone()), tokio::spawn))
        .data(store)
        .finish()
}
