//! search's part of the supergraph: `Query.search`, ranked hits as a union
//! of references the router completes from their owners (applications,
//! contacts, users). Signed-in viewers only: they find their own
//! applications and contacts and every user's public profile.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, Schema, SchemaBuilder, SimpleObject, Union};
use jobtracker_kit::AppError;
use jobtracker_kit::graphql::{BearerToken, require_viewer};
use jobtracker_kit::references::{Application, Contact, User};

use crate::index::SearchIndex;
use crate::model::{Hit, Kind, SearchRequest};
use crate::upstream::Upstream;

pub type SearchSchema = Schema<Query, async_graphql::EmptyMutation, async_graphql::EmptySubscription>;

/// Hits fetched beyond `first`, so that the few dropped as no longer
/// resolvable (deleted, the index not yet told) rarely shorten the answer.
const DROPPED_SLACK: usize = 10;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SearchKind {
    Application,
    Contact,
    User,
}

impl From<SearchKind> for Kind {
    fn from(kind: SearchKind) -> Self {
        match kind {
            SearchKind::Application => Kind::Application,
            SearchKind::Contact => Kind::Contact,
            SearchKind::User => Kind::User,
        }
    }
}

#[derive(Union)]
pub enum SearchHit {
    Application(Application),
    Contact(Contact),
    User(User),
}

#[derive(SimpleObject)]
pub struct SearchResult {
    /// Higher is better; comparable within one answer only.
    pub score: f64,
    pub hit: SearchHit,
}

impl From<Hit> for SearchResult {
    fn from(hit: Hit) -> Self {
        let reference = match hit.kind {
            Kind::Application => SearchHit::Application(Application::of(hit.id)),
            Kind::Contact => SearchHit::Contact(Contact::of(hit.id)),
            Kind::User => SearchHit::User(User::of(hit.id)),
        };
        Self { score: hit.score, hit: reference }
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The viewer's applications and contacts and users' public profiles
    /// matching every word (case, accents and small typos aside; the last
    /// word may be the beginning of one), best first.
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        kinds: Option<Vec<SearchKind>>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> Result<Vec<SearchResult>> {
        let viewer = require_viewer(ctx)?;
        let kinds = kinds.map(|kinds| kinds.into_iter().map(Kind::from).collect());
        let request = SearchRequest::parse(viewer.user_id, &query, kinds, first)?;
        if request.is_vacant() {
            return Ok(Vec::new());
        }
        let token = ctx.data_opt::<BearerToken>().ok_or_else(AppError::unauthenticated)?;
        let wanted = request.limit;
        let widened = SearchRequest { limit: wanted + DROPPED_SLACK, ..request };
        let hits = ctx.data_unchecked::<Arc<dyn SearchIndex>>().search(&widened).await.map_err(AppError::internal)?;
        let mut kept = ctx.data_unchecked::<Upstream>().keep_resolvable(&token.0, hits).await?;
        kept.truncate(wanted);
        Ok(kept.into_iter().map(SearchResult::from).collect())
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, async_graphql::EmptyMutation, async_graphql::EmptySubscription> {
    Schema::build(Query, async_graphql::EmptyMutation, async_graphql::EmptySubscription)
        .enable_federation()
        .extension(async_graphql::extensions::Tracing)
}

/// The schema with its data.
pub fn schema(index: Arc<dyn SearchIndex>, upstream: Upstream) -> SearchSchema {
    schema_builder().data(index).data(upstream).finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdl_has_the_contract_types() {
        let sdl = jobtracker_kit::service::federation_sdl(&super::schema_builder().finish());
        for expected in [
            "union SearchHit = Application | Contact | User",
            "search(query: String!, kinds: [SearchKind!], first: Int = 20): [SearchResult!]!",
            "score: Float!",
            "hit: SearchHit!",
        ] {
            assert!(sdl.contains(expected), "missing {expected:?} in\n{sdl}");
        }
    }
}
