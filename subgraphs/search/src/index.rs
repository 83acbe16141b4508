//! The one thing both backends do: keep documents, newest version wins, and
//! answer a search with ranked hits the viewer may see. PostgreSQL
//! ([`crate::store::PgIndex`]) is the default; Elasticsearch/OpenSearch
//! ([`crate::elastic::ElasticIndex`]) when `ELASTICSEARCH_URL` is set
//! (decision 29).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use jobtracker_kit::events::HandlerResult;
use uuid::Uuid;

use crate::model::{Document, Hit, Kind, SearchRequest};

#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// For logs and figures: "postgresql" or "elasticsearch".
    fn backend(&self) -> &'static str;

    /// Creates what the index needs if it is missing (the PostgreSQL tables
    /// come with the migrations).
    async fn prepare(&self) -> anyhow::Result<()>;

    /// Applies one document unless the index holds a newer (or the same)
    /// version of it. Called by the consumer inside its transaction on
    /// search's own database (`conn`), so that with PostgreSQL the document
    /// and the processed event commit together.
    async fn apply(&self, conn: &mut AsyncPgConnection, document: &Document) -> HandlerResult;

    /// The best matches of the viewer's own documents and public ones, best
    /// first, ties in a stable order; `request` is not vacant.
    async fn search(&self, request: &SearchRequest) -> anyhow::Result<Vec<Hit>>;

    /// Replaces every document with `documents` (the newest version of each
    /// aggregate, deletions included), readers seeing the old index until the
    /// new one is whole; `progress` is told how many are written so far.
    async fn replace_all(&self, documents: &[Document], progress: &mut (dyn FnMut(usize) + Send))
    -> anyhow::Result<()>;

    /// Every live document as (kind, id, version), sorted: what checks that
    /// two indexes agree compare.
    async fn live_documents(&self) -> anyhow::Result<Vec<(Kind, Uuid, i64)>>;

    /// Forgets deletions recorded before `before`; how many.
    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;
}
