//! users' part of the supergraph: `User` (owned here), profile queries and
//! mutations, and the `profileUpdated` subscription.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{
    ComplexObject, Context, ID, InputObject, MaybeUndefined, Object, Result, Schema, SchemaBuilder, SimpleObject,
    Subscription,
};
use chrono::{DateTime, Utc};
use futures::Stream;
use jobtracker_kit::events::Fanout;
use jobtracker_kit::events::contracts::USER_UPDATED;
use jobtracker_kit::graphql::{optional_viewer, require_viewer};
use jobtracker_kit::pagination::{self, CountedConnection, PageRequest};
use jobtracker_kit::social::{SocialLinkInput, SocialLinkView};
use jobtracker_kit::subscription::{SharedSince, Watch, viewer_stream};
use jobtracker_kit::validate::{Patch, parse_id};
use jobtracker_kit::{AppError, AppResult};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::events::AccountsClient;
use crate::model::{self, Profile, ProfilePatch, RawProfileInput};
use crate::store::Store;

pub type UsersSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// A public profile.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    pub id: ID,
    pub full_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    /// The position the user holds or seeks.
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub social_links: Vec<SocialLinkView>,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub uuid: Uuid,
}

impl From<Profile> for User {
    fn from(profile: Profile) -> Self {
        Self {
            id: ID(profile.id.to_string()),
            social_links: profile.social_links.iter().map(SocialLinkView::from).collect(),
            full_name: profile.full_name,
            email: profile.email,
            phone: profile.phone,
            location: profile.location,
            headline: profile.headline,
            skills: profile.skills,
            created_at: profile.created_at,
            uuid: profile.id,
        }
    }
}

#[ComplexObject]
impl User {
    /// Profiles this user saved; only on the viewer's own User, null for others.
    async fn saved_profiles(&self, ctx: &Context<'_>) -> Result<Option<Vec<User>>> {
        match optional_viewer(ctx) {
            Some(viewer) if viewer.user_id == self.uuid => {
                let saved = ctx.data_unchecked::<Store>().saved_by(self.uuid).await?;
                Ok(Some(saved.into_iter().map(User::from).collect()))
            }
            _ => Ok(None),
        }
    }
}

/// Every field optional: null clears, absent keeps.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub full_name: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub location: MaybeUndefined<String>,
    pub headline: MaybeUndefined<String>,
    pub skills: MaybeUndefined<Vec<String>>,
    pub social_links: MaybeUndefined<Vec<SocialLinkInput>>,
}

impl From<UpdateProfileInput> for RawProfileInput {
    fn from(input: UpdateProfileInput) -> Self {
        Self {
            full_name: input.full_name.into(),
            phone: input.phone.into(),
            location: input.location.into(),
            headline: input.headline.into(),
            skills: input.skills.into(),
            social_links: Patch::from(input.social_links).map(|links| links.into_iter().map(Into::into).collect()),
        }
    }
}

fn parse_user_id(id: &ID, field: &str) -> AppResult<Uuid> {
    parse_id(id, field, "a user")
}

async fn profile(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<User>> {
    let accounts = ctx.data_unchecked::<AccountsClient>();
    Ok(accounts.profile_or_fetch(ctx.data_unchecked::<Store>(), id).await?.map(User::from))
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user; null when signed out.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match optional_viewer(ctx) {
            Some(viewer) => Ok(profile(ctx, viewer.user_id).await?),
            None => Ok(None),
        }
    }

    /// A user's profile, for signed-in viewers only (profiles are visible to
    /// the app's users, not to the world): UNAUTHENTICATED when signed out;
    /// null when there is no such user.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        require_viewer(ctx)?;
        Ok(profile(ctx, parse_user_id(&id, "id")?).await?)
    }

    /// Users whose full name contains `search` (case-insensitive), by name.
    /// Signed-in viewers only (UNAUTHENTICATED otherwise); `search` needs at
    /// least 2 non-space characters (BAD_USER_INPUT, field `search`).
    async fn users(
        &self,
        ctx: &Context<'_>,
        search: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CountedConnection<User>> {
        require_viewer(ctx)?;
        let page = PageRequest::parse(first, after)?;
        let pattern = model::search_pattern(&search)?;
        let (rows, total) = ctx.data_unchecked::<Store>().search(&pattern, &page).await?;
        Ok(pagination::connection(rows, &page, total, |p| (p.full_name.to_lowercase(), p.id), User::from))
    }

    /// Federation entity resolution, for the router only (`_entities` is not
    /// part of the public API). It stays open to anonymous callers because the
    /// router resolves `AuthPayload.user` for `register`/`login`/`refreshToken`,
    /// whose caller has no token yet; the only reference the supergraph hands
    /// out to such a caller is their own account. Straight at this port it
    /// answers an exact id only (UUIDv7: nothing to enumerate, no search).
    /// See docs/decisions/0019-profiles-for-signed-in-users.md.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        match Uuid::parse_str(&id) {
            Ok(id) => Ok(profile(ctx, id).await?),
            Err(_) => Ok(None),
        }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Changes the viewer's profile.
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let viewer = require_viewer(ctx)?;
        let patch = ProfilePatch::parse(input.into())?;
        ensure_own_profile(ctx, viewer.user_id).await?;
        Ok(ctx.data_unchecked::<Store>().update(viewer.user_id, patch).await?.into())
    }

    /// Adds a profile to the viewer's saved list; returns the viewer.
    async fn save_profile(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let viewer = require_viewer(ctx)?;
        let target = parse_user_id(&user_id, "userId")?;
        let me = ensure_own_profile(ctx, viewer.user_id).await?;
        profile(ctx, target).await?.ok_or(AppError::NotFound("user"))?;
        ctx.data_unchecked::<Store>().save(viewer.user_id, target).await?;
        Ok(me)
    }

    /// Removes a profile from the viewer's saved list; returns the viewer.
    async fn unsave_profile(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let viewer = require_viewer(ctx)?;
        let target = parse_user_id(&user_id, "userId")?;
        let me = ensure_own_profile(ctx, viewer.user_id).await?;
        ctx.data_unchecked::<Store>().unsave(viewer.user_id, target).await?;
        Ok(me)
    }
}

/// The viewer's profile (a valid token for a deleted account is NOT_FOUND).
async fn ensure_own_profile(ctx: &Context<'_>, id: Uuid) -> AppResult<User> {
    profile(ctx, id).await?.ok_or(AppError::NotFound("user"))
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The viewer's profile, pushed after every change to it. Ends with
    /// UNAUTHENTICATED when the access token expires.
    async fn profile_updated(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Result<User>> + use<>> {
        let viewer = require_viewer(ctx)?;
        let events = ctx.data_unchecked::<Fanout>().subscribe(viewer.user_id);
        let store = ctx.data_unchecked::<Store>().clone();
        let reads = ctx.data_unchecked::<Arc<ProfileReads>>().clone();
        let watch = Watch { concerns: |event| event.event_type == USER_UPDATED, debounce: Duration::ZERO };
        Ok(viewer_stream(viewer, events, watch, move |began| {
            let (store, reads) = (store.clone(), reads.clone());
            async move { Ok(reads.once(viewer.user_id, began, || store.get(viewer.user_id)).await?.map(User::from)) }
        }))
    }
}

/// A user's profile read once for all of their tabs pushing after the same change.
type ProfileReads = SharedSince<Uuid, OnceCell<Option<Profile>>>;

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .data(Arc::new(ProfileReads::default()))
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(async_graphql::extensions::Tracing)
}
