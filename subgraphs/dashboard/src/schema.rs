//! dashboard's part of the supergraph: `Query.dashboard` and
//! `Subscription.dashboardUpdated`. It returns references to applications
//! and interviews; the router completes them from their own subgraphs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::{Context, EmptyMutation, ID, Object, Result, Schema, SchemaBuilder, Subscription};
use futures::Stream;
use jobtracker_kit::events::Fanout;
use jobtracker_kit::graphql::{BearerToken, require_viewer};
use jobtracker_kit::references::{Application, Interview};
use jobtracker_kit::subscription::{SharedSince, Watch, viewer_stream};
use jobtracker_kit::sync::lock;
use jobtracker_kit::{AppError, AppResult, Viewer};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::upstream::Upstream;

pub type DashboardSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

/// How long a burst of changes is gathered into one push.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
const MAX_LIMIT: i32 = 50;

/// The viewer's dashboard; each field is computed when asked for (in a
/// push, once per snapshot).
pub struct Dashboard {
    token: String,
    snapshot: Option<Arc<Snapshot>>,
}

/// One push's worth of a user's dashboard, shared by all of the user's
/// subscriptions (tabs) pushing after the same change: each field (per
/// limit) is fetched once, by whichever tab asks first, the others await it.
#[derive(Default)]
pub struct Snapshot {
    in_progress: OnceCell<i64>,
    recent: Mutex<HashMap<i32, Arc<OnceCell<Vec<String>>>>>,
    upcoming: Mutex<HashMap<i32, Arc<OnceCell<Vec<String>>>>>,
}

/// Each user's newest snapshot; a push reuses it if it was taken after the
/// newest change the push covers was seen.
pub type Snapshots = SharedSince<Uuid, Snapshot>;

/// `compute`d once per snapshot (and per `limit` where `cells` has one).
async fn shared<T: Clone, F: Future<Output = AppResult<T>>>(cell: Option<&OnceCell<T>>, compute: F) -> AppResult<T> {
    match cell {
        Some(cell) => cell.get_or_try_init(|| compute).await.cloned(),
        None => compute.await,
    }
}

fn cell_for(cells: &Mutex<HashMap<i32, Arc<OnceCell<Vec<String>>>>>, limit: i32) -> Arc<OnceCell<Vec<String>>> {
    lock(cells).entry(limit).or_default().clone()
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
        let upstream = ctx.data_unchecked::<Upstream>();
        let cell = self.snapshot.as_ref().map(|s| &s.in_progress);
        Ok(shared(cell, upstream.in_progress_count(&self.token)).await? as i32)
    }

    /// Not cancelled, from now on, soonest first.
    async fn upcoming_interviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(5)")] limit: Option<i32>,
    ) -> Result<Vec<Interview>> {
        let (upstream, limit) = (ctx.data_unchecked::<Upstream>(), self::limit(limit)?);
        let cell = self.snapshot.as_ref().map(|s| cell_for(&s.upcoming, limit));
        let fetch = upstream.upcoming_interviews(&self.token, limit, jobtracker_kit::db::now());
        let ids = shared(cell.as_deref(), fetch).await?;
        Ok(ids.into_iter().map(|id| Interview { id: ID(id) }).collect())
    }

    /// Newest first.
    async fn recent_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(5)")] limit: Option<i32>,
    ) -> Result<Vec<Application>> {
        let (upstream, limit) = (ctx.data_unchecked::<Upstream>(), self::limit(limit)?);
        let cell = self.snapshot.as_ref().map(|s| cell_for(&s.recent, limit));
        let ids = shared(cell.as_deref(), upstream.recent_applications(&self.token, limit)).await?;
        Ok(ids.into_iter().map(|id| Application { id: ID(id) }).collect())
    }
}

fn dashboard(ctx: &Context<'_>) -> Result<(Viewer, Dashboard), AppError> {
    let viewer = require_viewer(ctx)?;
    let token = ctx.data_opt::<BearerToken>().map(|t| t.0.clone()).ok_or_else(AppError::unauthenticated)?;
    Ok((viewer, Dashboard { token, snapshot: None }))
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
        let events = ctx.data_unchecked::<Fanout>().subscribe(viewer.user_id);
        let snapshots = ctx.data_unchecked::<Arc<Snapshots>>().clone();
        // The fanout is bound to application and interview events only.
        let watch = Watch { concerns: |_| true, debounce: DEBOUNCE };
        Ok(viewer_stream(viewer, events, watch, move |began| {
            let snapshot = Some(snapshots.after(viewer.user_id, began));
            let token = token.clone();
            async move { Ok(Some(Dashboard { token, snapshot })) }
        }))
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, EmptyMutation, SubscriptionRoot> {
    Schema::build(Query, EmptyMutation, SubscriptionRoot)
        .data(Arc::new(Snapshots::default()))
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(async_graphql::extensions::Tracing)
}
