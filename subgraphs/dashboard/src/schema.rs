//! dashboard's part of the supergraph: `Query.dashboard` and
//! `Subscription.dashboardUpdated`. It returns references to applications
//! and interviews; the router completes them from their own subgraphs.

use std::time::Duration;

use async_graphql::{Context, EmptyMutation, ID, Object, Result, Schema, SchemaBuilder, Subscription};
use futures::Stream;
use jobtracker_kit::events::Fanout;
use jobtracker_kit::graphql::{BearerToken, require_viewer};
use jobtracker_kit::references::{Application, Interview};
use jobtracker_kit::subscription::{Watch, viewer_stream};
use jobtracker_kit::{AppError, Viewer};

use crate::upstream::Upstream;

pub type DashboardSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// How long a burst of changes is gathered into one push.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
const MAX_LIMIT: i32 = 50;

/// The viewer's dashboard; each field is computed when asked for.
pub struct Dashboard {
    token: String,
}

fn limit(value: Option<i32>) -> Result<i32, AppError> {
    match value.unwrap_or(5) {
        n if (0..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(AppError::bad_input("limit", format!("limit must be between 0 and {MAX_LIMIT}"))),
    }
}

#[Object]
impl Dashboard {
    /// Applications in APPLIED, INTERVIEW or OFFER.
    async fn in_progress_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(ctx.data_unchecked::<Upstream>().in_progress_count(&self.token).await? as i32)
    }

    /// Not cancelled, from now on, soonest first.
    async fn upcoming_interviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(5)")] limit: Option<i32>,
    ) -> Result<Vec<Interview>> {
        let ids = ctx
            .data_unchecked::<Upstream>()
            .upcoming_interviews(&self.token, self::limit(limit)?, jobtracker_kit::db::now())
            .await?;
        Ok(ids.into_iter().map(|id| Interview { id: ID(id) }).collect())
    }

    /// Newest first.
    async fn recent_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(5)")] limit: Option<i32>,
    ) -> Result<Vec<Application>> {
        let ids = ctx.data_unchecked::<Upstream>().recent_applications(&self.token, self::limit(limit)?).await?;
        Ok(ids.into_iter().map(|id| Application { id: ID(id) }).collect())
    }
}

fn dashboard(ctx: &Context<'_>) -> Result<(Viewer, Dashboard), AppError> {
    let viewer = require_viewer(ctx)?;
    let token = ctx.data_opt::<BearerToken>().map(|t| t.0.clone()).ok_or_else(AppError::unauthenticated)?;
    Ok((viewer, Dashboard { token }))
}

pub struct Query;

#[Object]
impl Query {
    /// The viewer's dashboard.
    async fn dashboard(&self, ctx: &Context<'_>) -> Result<Dashboard> {
        Ok(dashboard(ctx)?.1)
    }
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The viewer's dashboard, pushed after every change to their
    /// applications or interviews (a burst of changes gives one push). Ends
    /// with UNAUTHENTICATED when the access token expires.
    async fn dashboard_updated(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Result<Dashboard>> + use<>> {
        let (viewer, _) = dashboard(ctx)?;
        let token = ctx.data_unchecked::<BearerToken>().0.clone();
        let events = ctx.data_unchecked::<Fanout>().subscribe();
        // The fanout is bound to application and interview events only.
        let watch = Watch { concerns: |_| true, debounce: DEBOUNCE };
        Ok(viewer_stream(viewer, events, watch, move || {
            let token = token.clone();
            async move { Ok(Some(Dashboard { token })) }
        }))
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, EmptyMutation, SubscriptionRoot> {
    Schema::build(Query, EmptyMutation, SubscriptionRoot)
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(async_graphql::extensions::Tracing)
}
