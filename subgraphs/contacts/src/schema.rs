//! contacts' part of the supergraph: `Contact` (owned here), its queries and
//! mutations, and `Contact.user`, a reference the router completes from the
//! users subgraph. Every operation is the viewer's own: another user's
//! contact is NOT_FOUND, in lists it does not exist.

use async_graphql::{Context, ID, InputObject, Object, Result, Schema, SchemaBuilder};
use chrono::{DateTime, Utc};
use jobtracker_kit::graphql::{optional_viewer, require_viewer};
use jobtracker_kit::pagination::{self, CountedConnection, PageRequest};
use jobtracker_kit::references::User;
use jobtracker_kit::social::{SocialLinkInput, SocialLinkView};
use jobtracker_kit::validate;
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{self, ContactCursor, ContactFields, RawContact};
use crate::store::Store;

pub type ContactsSchema = Schema<Query, Mutation, async_graphql::EmptySubscription>;

/// A person the viewer keeps in touch with.
pub struct Contact(pub model::Contact);

/// A person the viewer keeps in touch with.
#[Object]
impl Contact {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn position(&self) -> Option<&str> {
        self.0.position.as_deref()
    }
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    /// Lower-cased.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn social_links(&self) -> Vec<SocialLinkView> {
        self.0.social_links.iter().map(SocialLinkView::from).collect()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// The registered user whose e-mail this is, set automatically (and
    /// following either side's e-mail changes).
    async fn user(&self) -> Option<User> {
        self.0.user_id.map(User::of)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct ContactInput {
    pub name: String,
    pub position: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub social_links: Option<Vec<SocialLinkInput>>,
    pub notes: Option<String>,
}

impl From<ContactInput> for RawContact {
    fn from(input: ContactInput) -> Self {
        Self {
            name: input.name,
            position: input.position,
            company: input.company,
            email: input.email,
            phone: input.phone,
            social_links: input.social_links.map(|links| links.into_iter().map(Into::into).collect()),
            notes: input.notes,
        }
    }
}

fn parse_id(id: &ID, field: &str) -> AppResult<Uuid> {
    validate::parse_id(id, field, "a contact")
}

fn store<'a>(ctx: &Context<'a>) -> &'a Store {
    ctx.data_unchecked::<Store>()
}

pub struct Query;

#[Object]
impl Query {
    /// One of the viewer's contacts; NOT_FOUND for a missing or another user's.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let viewer = require_viewer(ctx)?;
        let contact =
            store(ctx).get(viewer.user_id, parse_id(&id, "id")?).await?.ok_or(AppError::NotFound("contact"))?;
        Ok(Some(Contact(contact)))
    }

    /// The viewer's contacts, newest first; `search` is a case-insensitive
    /// partial match on name, company or position.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CountedConnection<Contact>> {
        let viewer = require_viewer(ctx)?;
        let page = PageRequest::<ContactCursor>::parse(first, after)?;
        let pattern = search.as_deref().map(model::search_pattern).transpose()?.flatten();
        // Counting every match is the costly half at many contacts: only when asked.
        let count = ctx.look_ahead().field("totalCount").exists();
        let (rows, total) = store(ctx).list(viewer.user_id, pattern.as_deref(), &page, count).await?;
        let key = |row: &model::Contact| ContactCursor { at: row.created_at, id: row.id };
        Ok(pagination::connection(rows, &page, total, key, Contact))
    }

    /// Resolves references from other subgraphs: only the viewer's own.
    #[graphql(entity)]
    async fn find_contact_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let (Some(viewer), Ok(id)) = (optional_viewer(ctx), Uuid::parse_str(&id)) else { return Ok(None) };
        Ok(store(ctx).get(viewer.user_id, id).await?.map(Contact))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn create_contact(&self, ctx: &Context<'_>, input: ContactInput) -> Result<Contact> {
        let viewer = require_viewer(ctx)?;
        let fields = ContactFields::parse(input.into())?;
        Ok(Contact(store(ctx).create(viewer.user_id, fields).await?))
    }

    /// Replaces the contact's fields with `input` (an absent field is cleared).
    async fn update_contact(&self, ctx: &Context<'_>, id: ID, input: ContactInput) -> Result<Contact> {
        let viewer = require_viewer(ctx)?;
        let id = parse_id(&id, "id")?;
        let fields = ContactFields::parse(input.into())?;
        Ok(Contact(store(ctx).update(viewer.user_id, id, fields).await?))
    }

    /// Deletes the contact; returns its id.
    async fn delete_contact(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
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

/// The schema with its data.
pub fn schema(store: Store) -> ContactsSchema {
    schema_builder().data(store).finish()
}
