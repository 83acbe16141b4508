//! interviews' part of the supergraph: `Interview` (owned here) and
//! `Application.interviews` (contributed to applications' entity).

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    ComplexObject, Context, EmptySubscription, ID, InputObject, MaybeUndefined, Object, Result, Schema, SchemaBuilder,
    SimpleObject,
};
use chrono::{DateTime, Utc};
use jobtracker_kit::graphql::{BearerToken, optional_viewer, require_viewer};
use jobtracker_kit::pagination::{self, CountedConnection, PageRequest};
use jobtracker_kit::validate::{self, Patch};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{self, IanaTimeZone, InterviewCursor, InterviewPatch, InterviewType, NewInterview, RawNewInterview};
use crate::store::{ListFilter, Store};
use crate::upstream::ApplicationsClient;

pub type InterviewsSchema = Schema<Query, Mutation, EmptySubscription>;

/// Batches `Application.interviews` over the applications of one response.
pub struct InterviewsByApplication(pub Store);

impl Loader<Uuid> for InterviewsByApplication {
    type Value = Vec<model::Interview>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut by_application: HashMap<Uuid, Vec<model::Interview>> = HashMap::new();
        for row in self.0.for_applications(keys).await? {
            if let Some(application_id) = row.application_id {
                by_application.entry(application_id).or_default().push(row);
            }
        }
        Ok(by_application)
    }
}

/// A scheduled interview.
pub struct Interview(pub model::Interview);

/// A scheduled interview.
#[Object]
impl Interview {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn company(&self) -> &str {
        &self.0.company
    }
    async fn position(&self) -> &str {
        &self.0.position
    }
    /// When it starts (UTC, with offset).
    async fn scheduled_at(&self) -> DateTime<Utc> {
        self.0.scheduled_at
    }
    /// IANA name, e.g. Europe/Paris: the zone it was scheduled in.
    async fn time_zone(&self) -> &str {
        self.0.time_zone.as_str()
    }
    async fn duration_minutes(&self) -> Option<i32> {
        self.0.duration_minutes
    }
    #[graphql(name = "type")]
    async fn interview_type(&self) -> InterviewType {
        self.0.interview_type
    }
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    async fn cancelled(&self) -> bool {
        self.0.cancelled
    }
    /// The application it belongs to, when linked.
    async fn application(&self) -> Option<ApplicationRef> {
        self.0.application_id.map(|id| ApplicationRef { id: ID(id.to_string()) })
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

// applications' `Application`, extended with its interviews.
#[derive(SimpleObject)]
#[graphql(name = "Application", complex)]
pub struct ApplicationRef {
    pub id: ID,
}

#[ComplexObject]
impl ApplicationRef {
    /// The viewer's interviews for this application, soonest first (cancelled included).
    async fn interviews(&self, ctx: &Context<'_>) -> Result<Vec<Interview>> {
        let (Some(viewer), Ok(id)) = (optional_viewer(ctx), Uuid::parse_str(&self.id)) else { return Ok(Vec::new()) };
        let rows = ctx.data_unchecked::<DataLoader<InterviewsByApplication>>().load_one(id).await?.unwrap_or_default();
        Ok(rows.into_iter().filter(|row| row.owner_id == viewer.user_id).map(Interview).collect())
    }
}

#[derive(InputObject)]
pub struct ScheduleInterviewInput {
    /// Taken from the application when omitted.
    pub company: Option<String>,
    /// Taken from the application when omitted.
    pub position: Option<String>,
    pub application_id: Option<ID>,
    pub scheduled_at: DateTime<Utc>,
    pub time_zone: String,
    pub duration_minutes: Option<i32>,
    #[graphql(name = "type")]
    pub interview_type: InterviewType,
    pub details: Option<String>,
}

/// Absent keeps; null clears durationMinutes and details (the others cannot be cleared).
#[derive(InputObject)]
pub struct UpdateInterviewInput {
    pub scheduled_at: MaybeUndefined<DateTime<Utc>>,
    pub time_zone: MaybeUndefined<String>,
    pub duration_minutes: MaybeUndefined<i32>,
    #[graphql(name = "type")]
    pub interview_type: MaybeUndefined<InterviewType>,
    pub details: MaybeUndefined<String>,
}

impl UpdateInterviewInput {
    fn parse(self) -> AppResult<InterviewPatch> {
        Ok(InterviewPatch {
            scheduled_at: Patch::from(self.scheduled_at).required("input.scheduledAt", Ok)?,
            time_zone: Patch::from(self.time_zone)
                .required("input.timeZone", |tz| IanaTimeZone::parse(&tz, "input.timeZone"))?,
            duration_minutes: Patch::from(self.duration_minutes)
                .optional(|d| model::duration(Some(d), "input.durationMinutes"))?,
            interview_type: Patch::from(self.interview_type).required("input.type", Ok)?,
            details: Patch::from(self.details).optional(|d| model::details(Some(&d), "input.details"))?,
        })
    }
}

#[derive(InputObject, Default)]
pub struct InterviewFilter {
    #[graphql(name = "type")]
    pub types: Option<Vec<InterviewType>>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    #[graphql(default_with = "Some(false)")]
    pub include_cancelled: Option<bool>,
}

fn parse_id(id: &ID, field: &str) -> AppResult<Uuid> {
    validate::parse_id(id, field, "an interview")
}

fn store<'a>(ctx: &Context<'a>) -> &'a Store {
    ctx.data_unchecked::<Store>()
}

pub struct Query;

#[Object]
impl Query {
    /// One of the viewer's interviews; NOT_FOUND for a missing or another user's.
    async fn interview(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Interview>> {
        let viewer = require_viewer(ctx)?;
        let row = store(ctx).get(viewer.user_id, parse_id(&id, "id")?).await?.ok_or(AppError::NotFound("interview"))?;
        Ok(Some(Interview(row)))
    }

    /// The viewer's interviews, soonest first.
    async fn interviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<InterviewFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CountedConnection<Interview>> {
        let viewer = require_viewer(ctx)?;
        let page = PageRequest::<InterviewCursor>::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        model::check_range(filter.from, filter.to)?;
        let list_filter = ListFilter {
            types: filter.types.filter(|t| !t.is_empty()),
            from: filter.from,
            to: filter.to,
            include_cancelled: filter.include_cancelled.unwrap_or(false),
        };
        let (rows, total) = store(ctx).list(viewer.user_id, &list_filter, &page).await?;
        Ok(pagination::connection(rows, &page, total, |r| InterviewCursor { at: r.scheduled_at, id: r.id }, Interview))
    }

    /// Resolves references from other subgraphs: only the viewer's own.
    #[graphql(entity)]
    async fn find_interview_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Interview>> {
        let (Some(viewer), Ok(id)) = (optional_viewer(ctx), Uuid::parse_str(&id)) else { return Ok(None) };
        Ok(store(ctx).get(viewer.user_id, id).await?.map(Interview))
    }

    #[graphql(entity)]
    async fn find_application_by_id(&self, id: ID) -> ApplicationRef {
        ApplicationRef { id }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Schedules an interview, optionally linked to one of the viewer's applications.
    async fn schedule_interview(&self, ctx: &Context<'_>, input: ScheduleInterviewInput) -> Result<Interview> {
        let viewer = require_viewer(ctx)?;
        let new = NewInterview::parse(RawNewInterview {
            company: input.company,
            position: input.position,
            application_id: input.application_id.map(|id| id.0),
            scheduled_at: input.scheduled_at,
            time_zone: input.time_zone,
            duration_minutes: input.duration_minutes,
            interview_type: input.interview_type,
            details: input.details,
        })?;
        let (company, position) = match new.application_id {
            Some(application_id) => {
                let token = ctx.data_unchecked::<BearerToken>();
                let linked = ctx
                    .data_unchecked::<ApplicationsClient>()
                    .application(&token.0, application_id)
                    .await?
                    .ok_or(AppError::NotFound("application"))?;
                (new.company.clone().unwrap_or(linked.company), new.position.clone().unwrap_or(linked.position))
            }
            None => (new.company.clone().unwrap_or_default(), new.position.clone().unwrap_or_default()),
        };
        Ok(Interview(store(ctx).schedule(viewer.user_id, new, company, position).await?))
    }

    /// Changes or reschedules an interview.
    async fn update_interview(&self, ctx: &Context<'_>, id: ID, input: UpdateInterviewInput) -> Result<Interview> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Interview(store(ctx).update(viewer.user_id, id, input.parse()?).await?))
    }

    async fn cancel_interview(&self, ctx: &Context<'_>, id: ID) -> Result<Interview> {
        let viewer = require_viewer(ctx)?;
        Ok(Interview(store(ctx).cancel(viewer.user_id, parse_id(&id, "id")?).await?))
    }

    async fn delete_interview(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        store(ctx).delete(viewer.user_id, id).await?;
        // The canonical form, as every other answer writes it.
        Ok(ID(id.to_string()))
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription).enable_federation().extension(async_graphql::extensions::Tracing)
}

pub fn schema(store: Store, applications: ApplicationsClient) -> InterviewsSchema {
    schema_builder()
        .data(DataLoader::new(InterviewsByApplication(store.clone()), tokio::spawn))
        .data(store)
        .data(applications)
        .finish()
}
