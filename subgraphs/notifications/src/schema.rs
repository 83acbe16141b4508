//! notifications' part of the supergraph: `Notification` (owned here), the
//! viewer's list, unread count and preferences, and marking read. Every
//! notification is its owner's alone: another user's is NOT_FOUND.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, Result, Schema, SchemaBuilder, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use jobtracker_kit::events::Fanout;
use jobtracker_kit::graphql::require_viewer;
use jobtracker_kit::pagination::{self, CountedConnection, PageRequest};
use jobtracker_kit::references::{Application, Interview};
use jobtracker_kit::subscription::{SharedSince, Watch, viewer_stream};
use jobtracker_kit::sync::lock;
use jobtracker_kit::validate;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::model::{Channel, Clock, Kind, Preferences};
use crate::store::{self, NOTIFICATION_CREATED, NotificationCursor, Store};

pub type NotificationsSchema = Schema<Query, Mutation, SubscriptionRoot>;

pub struct Notification(pub store::Notification);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> Kind {
        self.0.kind
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    async fn interview(&self) -> Option<Interview> {
        self.0.interview_id.map(Interview::of)
    }
    async fn application(&self) -> Option<Application> {
        self.0.application_id.map(Application::of)
    }
}

#[derive(SimpleObject)]
pub struct NotificationPreferences {
    pub channels: Vec<Channel>,
    /// Minutes before each interview a reminder goes out; default [1440, 60].
    pub reminder_minutes_before: Vec<i32>,
}

impl From<Preferences> for NotificationPreferences {
    fn from(chosen: Preferences) -> Self {
        Self { channels: chosen.channels, reminder_minutes_before: chosen.reminder_minutes_before }
    }
}

/// Absent fields keep their value.
#[derive(InputObject)]
pub struct NotificationPreferencesInput {
    pub channels: Option<Vec<Channel>>,
    pub reminder_minutes_before: Option<Vec<i32>>,
}

fn store<'a>(ctx: &Context<'a>) -> &'a Store {
    ctx.data_unchecked::<Store>()
}

pub struct Query;

#[Object]
impl Query {
    /// The viewer's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] unread_only: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CountedConnection<Notification>> {
        let viewer = require_viewer(ctx)?;
        let page = PageRequest::<NotificationCursor>::parse(first, after)?;
        let (rows, total) = store(ctx).list(viewer.user_id, unread_only, &page).await?;
        let key = |row: &store::Notification| NotificationCursor { at: row.created_at, id: row.id };
        Ok(pagination::connection(rows, &page, total, key, Notification))
    }

    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let viewer = require_viewer(ctx)?;
        Ok(i32::try_from(store(ctx).unread_count(viewer.user_id).await?).unwrap_or(i32::MAX))
    }

    async fn notification_preferences(&self, ctx: &Context<'_>) -> Result<NotificationPreferences> {
        let viewer = require_viewer(ctx)?;
        Ok(store(ctx).preferences(viewer.user_id).await?.into())
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn mark_notification_read(&self, ctx: &Context<'_>, id: ID) -> Result<Notification> {
        let viewer = require_viewer(ctx)?;
        let id = validate::parse_id(&id, "id", "a notification")?;
        Ok(Notification(store(ctx).mark_read(viewer.user_id, id).await?))
    }

    /// How many were unread.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> Result<i32> {
        let viewer = require_viewer(ctx)?;
        Ok(i32::try_from(store(ctx).mark_all_read(viewer.user_id).await?).unwrap_or(i32::MAX))
    }

    /// Changes the viewer's preferences; pending reminders are re-planned.
    async fn update_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: NotificationPreferencesInput,
    ) -> Result<NotificationPreferences> {
        let viewer = require_viewer(ctx)?;
        let current = store(ctx).preferences(viewer.user_id).await?;
        let chosen = Preferences::changed(&current, input.channels, input.reminder_minutes_before)?;
        store(ctx).set_preferences(viewer.user_id, &chosen, *ctx.data_unchecked::<Clock>()).await?;
        Ok(chosen.into())
    }
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Each of the viewer's notifications as it is delivered in the app; ends
    /// with UNAUTHENTICATED when the access token expires.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<Notification>> + use<>> {
        let viewer = require_viewer(ctx)?;
        let events = ctx.data_unchecked::<Fanout>().subscribe(viewer.user_id);
        let store = ctx.data_unchecked::<Store>().clone();
        let reads = ctx.data_unchecked::<Arc<NextReads>>().clone();
        let watch = Watch { concerns: |event| event.event_type == NOTIFICATION_CREATED, debounce: Duration::ZERO };
        // Pushes each notification once, oldest first, from the moment of subscribing.
        let seen = Arc::new(Mutex::new(NotificationCursor { at: jobtracker_kit::db::now(), id: Uuid::max() }));
        Ok(viewer_stream(viewer, events, watch, move |began| {
            let (store, reads, seen) = (store.clone(), reads.clone(), seen.clone());
            async move {
                let after = lock(&seen).clone();
                let next = reads
                    .once((viewer.user_id, after.clone()), began, || store.next_after(viewer.user_id, &after))
                    .await?;
                if let Some(found) = &next {
                    *lock(&seen) = NotificationCursor { at: found.created_at, id: found.id };
                }
                Ok(next.map(Notification))
            }
        }))
    }
}

/// The notification after a cursor, read once for all of a user's tabs
/// standing at that cursor after the same event (they meet there after
/// their first push).
type NextReads = SharedSince<(Uuid, NotificationCursor), OnceCell<Option<store::Notification>>>;

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .data(Arc::new(NextReads::default()))
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(async_graphql::extensions::Tracing)
}

pub fn schema(store: Store, clock: Clock, fanout: Fanout) -> NotificationsSchema {
    schema_builder().data(store).data(clock).data(fanout).finish()
}
