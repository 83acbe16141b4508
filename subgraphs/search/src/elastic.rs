//! The Elasticsearch/OpenSearch index (`ELASTICSEARCH_URL`), through the
//! `elasticsearch` crate. Explicit mappings: every text field analysed by
//! `folded` (standard tokenizer, lowercase, asciifolding) with a `.prefix`
//! sub-field that indexes edge n-grams for the word being typed. Versions
//! are ES external versions, so an older event is refused by the server
//! (409) and a delete leaves ES's own tombstone. The index is an alias over
//! `<alias>-<n>`, so a reindex builds a fresh index and swaps the alias.
//! Tested against osmem-server, an OpenSearch-compatible emulator (README).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use elasticsearch::auth::Credentials;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesRefreshParts};
use elasticsearch::params::VersionType;
use elasticsearch::{BulkOperation, BulkParts, DeleteParts, Elasticsearch, IndexParts, SearchParts};
use jobtracker_kit::events::{HandlerError, HandlerResult};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::index::SearchIndex;
use crate::model::{Document, Hit, Kind, SearchRequest};

/// The `owner` of public documents.
const PUBLIC: &str = "public";
const WRITE_BATCH: usize = 1_000;
/// Elasticsearch's answer per page at most; `live_documents` is for checks.
const MAX_LISTED: usize = 10_000;
/// The same fuzziness rule as [`crate::model::allowed_edits`], and, as in
/// PostgreSQL's `levenshtein`, a transposition counts as two edits.
const FUZZINESS: &str = "AUTO:5,8";
/// Field boosts in the ratio of the PostgreSQL weights (A 1.0, B 0.6, C 0.3, D 0.1).
const FIELDS: [(&str, u32); 4] = [("primary", 10), ("secondary", 6), ("location", 3), ("body", 1)];

#[derive(Clone, Debug)]
pub struct ElasticConfig {
    /// Credentials in the URL's user-info are sent as Basic auth.
    pub url: String,
    /// The alias the service reads and writes.
    pub index: String,
    pub timeout: Duration,
}

pub struct ElasticIndex {
    client: Elasticsearch,
    alias: String,
}

/// A failed call, with what the server said.
async fn failure(what: &str, response: Response) -> anyhow::Error {
    let status = response.status_code();
    let body = response.text().await.unwrap_or_default();
    anyhow::anyhow!("Elasticsearch {what}: HTTP {status}: {}", body.chars().take(500).collect::<String>())
}

/// Checks a call that has no answer worth reading.
async fn ok(what: &str, response: Response) -> anyhow::Result<()> {
    if response.status_code().is_success() { Ok(()) } else { Err(failure(what, response).await) }
}

fn document_id(kind: Kind, id: Uuid) -> String {
    format!("{}:{id}", kind.as_str())
}

fn parse_document_id(raw: &str) -> anyhow::Result<(Kind, Uuid)> {
    let (kind, id) = raw.split_once(':').ok_or_else(|| anyhow::anyhow!("document id {raw:?} has no kind"))?;
    let kind = Kind::parse(kind).ok_or_else(|| anyhow::anyhow!("document id {raw:?} has an unknown kind"))?;
    Ok((kind, Uuid::parse_str(id)?))
}

fn source(document: &Document) -> Option<Value> {
    let words = document.words.as_ref()?;
    Some(json!({
        "key": document_id(document.kind, document.id),
        "kind": document.kind.as_str(),
        "owner": document.owner.map_or(PUBLIC.to_string(), |owner| owner.to_string()),
        "primary": words.primary,
        "secondary": words.secondary,
        "location": words.location,
        "body": words.body,
    }))
}

/// Settings and mappings of every index behind the alias.
fn index_definition() -> Value {
    let text = json!({
        "type": "text",
        "analyzer": "folded",
        "fields": { "prefix": { "type": "text", "analyzer": "folded_prefix", "search_analyzer": "folded" } }
    });
    let mut properties = json!({
        "key": { "type": "keyword" },
        "kind": { "type": "keyword" },
        "owner": { "type": "keyword" },
    });
    for (field, _) in FIELDS {
        properties[field] = text.clone();
    }
    json!({
        "settings": {
            "number_of_shards": 1,
            "refresh_interval": "1s",
            "analysis": {
                "filter": { "word_prefixes": { "type": "edge_ngram", "min_gram": 1, "max_gram": 20 } },
                "analyzer": {
                    "folded": { "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"] },
                    "folded_prefix": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding", "word_prefixes"]
                    }
                }
            }
        },
        "mappings": { "dynamic": "strict", "properties": properties }
    })
}

/// Every word must match somewhere (typos within the allowed edits); the
/// last one may also be the beginning of a word.
fn search_body(request: &SearchRequest) -> Value {
    let fields = |suffix: &str| -> Vec<String> {
        FIELDS.iter().map(|(field, boost)| format!("{field}{suffix}^{boost}")).collect()
    };
    let last = request.words.len() - 1;
    let words: Vec<Value> = request
        .words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let tolerant = json!({ "multi_match": {
                "query": word, "fields": fields(""), "fuzziness": FUZZINESS, "fuzzy_transpositions": false
            }});
            if i < last {
                return tolerant;
            }
            let prefix = json!({ "multi_match": { "query": word, "fields": fields(".prefix") } });
            json!({ "bool": { "should": [tolerant, prefix], "minimum_should_match": 1 } })
        })
        .collect();
    let mut owners = vec![json!({ "term": { "owner": request.viewer.to_string() } })];
    if request.kinds.contains(&Kind::User) {
        owners.push(json!({ "term": { "owner": PUBLIC } }));
    }
    let kinds: Vec<&str> = request.kinds.iter().map(|kind| kind.as_str()).collect();
    json!({
        "size": request.limit,
        "_source": false,
        "track_scores": true,
        "query": { "bool": {
            "must": words,
            "filter": [
                { "terms": { "kind": kinds } },
                { "bool": { "should": owners, "minimum_should_match": 1 } }
            ]
        }},
        "sort": [{ "_score": "desc" }, { "key": "asc" }]
    })
}

#[derive(Deserialize)]
struct SearchAnswer {
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    hits: Vec<RawHit>,
}

#[derive(Deserialize)]
struct RawHit {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "_score")]
    score: Option<f64>,
    #[serde(rename = "_version")]
    version: Option<i64>,
}

#[derive(Deserialize)]
struct BulkAnswer {
    errors: bool,
    items: Vec<serde_json::Map<String, Value>>,
}

impl ElasticIndex {
    pub fn new(config: &ElasticConfig) -> anyhow::Result<Self> {
        let mut url = Url::parse(&config.url)?;
        let credentials = (!url.username().is_empty())
            .then(|| Credentials::Basic(url.username().to_string(), url.password().unwrap_or("").to_string()));
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(config.timeout);
        if let Some(credentials) = credentials {
            transport = transport.auth(credentials);
        }
        Ok(Self { client: Elasticsearch::new(transport.build()?), alias: config.index.clone() })
    }

    /// The indices the alias points at; empty when it does not exist.
    async fn aliased_indices(&self) -> anyhow::Result<Vec<String>> {
        let response = self.client.indices().get_alias(IndicesGetAliasParts::Name(&[&self.alias])).send().await?;
        if response.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !response.status_code().is_success() {
            return Err(failure("reading the alias", response).await);
        }
        let answer: serde_json::Map<String, Value> = response.json().await?;
        Ok(answer.into_iter().map(|(index, _)| index).collect())
    }

    async fn create_index(&self, name: &str, with_alias: bool) -> anyhow::Result<()> {
        let mut body = index_definition();
        if with_alias {
            body["aliases"] = json!({ self.alias.clone(): {} });
        }
        let response = self.client.indices().create(IndicesCreateParts::Index(name)).body(body).send().await?;
        let status = response.status_code();
        let text = response.text().await?;
        // Another replica created it first: the same definition.
        if status.is_success() || text.contains("resource_already_exists_exception") {
            Ok(())
        } else {
            anyhow::bail!("Elasticsearch creating index {name}: HTTP {status}: {text}")
        }
    }

    /// Writes a batch with the bulk API, into `index`; items refused as
    /// older than the stored version are expected, anything else fails it.
    async fn bulk(&self, index: &str, documents: &[Document]) -> anyhow::Result<()> {
        // Deletions have nothing to write into a fresh index.
        let operations: Vec<BulkOperation<Value>> = documents
            .iter()
            .filter_map(|document| {
                let operation = BulkOperation::index(source(document)?)
                    .id(document_id(document.kind, document.id))
                    .version(document.version)
                    .version_type(VersionType::External);
                Some(operation.into())
            })
            .collect();
        if operations.is_empty() {
            return Ok(());
        }
        let response = self.client.bulk(BulkParts::Index(index)).body(operations).send().await?;
        if !response.status_code().is_success() {
            return Err(failure("bulk indexing", response).await);
        }
        let answer: BulkAnswer = response.json().await?;
        if answer.errors {
            let refused = answer.items.iter().flat_map(|item| item.values()).find(|result| {
                let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
                status >= 300 && status != u64::from(StatusCode::CONFLICT.as_u16())
            });
            if let Some(refused) = refused {
                anyhow::bail!("Elasticsearch refused a bulk item: {refused}");
            }
        }
        Ok(())
    }
}

/// A server or network failure may pass; a request the server calls bad
/// (mapping, syntax) fails the same way every time.
fn classify_status(status: StatusCode, err: anyhow::Error) -> HandlerError {
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::REQUEST_TIMEOUT {
        HandlerError::permanent(err)
    } else {
        HandlerError::transient(err)
    }
}

#[async_trait]
impl SearchIndex for ElasticIndex {
    fn backend(&self) -> &'static str {
        "elasticsearch"
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        if self.aliased_indices().await?.is_empty() {
            // A fixed first name: replicas starting together create it once.
            self.create_index(&format!("{}-0", self.alias), true).await?;
        }
        Ok(())
    }

    async fn apply(&self, _: &mut AsyncPgConnection, document: &Document) -> HandlerResult {
        let id = document_id(document.kind, document.id);
        let sent = match source(document) {
            Some(source) => {
                // Through the alias only: a missing alias must not make
                // the server create a stray index with guessed mappings.
                self.client
                    .index(IndexParts::IndexId(&self.alias, &id))
                    .require_alias(true)
                    .version(document.version)
                    .version_type(VersionType::External)
                    .body(source)
                    .send()
                    .await
            }
            None => {
                self.client
                    .delete(DeleteParts::IndexId(&self.alias, &id))
                    .version(document.version)
                    .version_type(VersionType::External)
                    .send()
                    .await
            }
        };
        let response = sent.map_err(HandlerError::transient)?;
        let status = response.status_code();
        // 409: the index holds this version or a newer one; 404 on a delete:
        // it was never indexed (on a write it means the index is missing:
        // retried, never taken as done).
        let deleting = document.words.is_none();
        if status.is_success() || status == StatusCode::CONFLICT || (deleting && status == StatusCode::NOT_FOUND) {
            return Ok(());
        }
        if status == StatusCode::NOT_FOUND {
            return Err(HandlerError::transient(failure("indexing (is the index missing?)", response).await));
        }
        Err(classify_status(status, failure("indexing", response).await))
    }

    async fn search(&self, request: &SearchRequest) -> anyhow::Result<Vec<Hit>> {
        let response = self.client.search(SearchParts::Index(&[&self.alias])).body(search_body(request)).send().await?;
        if !response.status_code().is_success() {
            return Err(failure("searching", response).await);
        }
        let answer: SearchAnswer = response.json().await?;
        answer
            .hits
            .hits
            .into_iter()
            .map(|hit| {
                let (kind, id) = parse_document_id(&hit.id)?;
                Ok(Hit { kind, id, score: hit.score.unwrap_or(0.0) })
            })
            .collect()
    }

    async fn replace_all(
        &self,
        documents: &[Document],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> anyhow::Result<()> {
        let previous = self.aliased_indices().await?;
        let fresh = format!("{}-{}", self.alias, Utc::now().timestamp_millis());
        self.create_index(&fresh, false).await?;
        let mut written = 0;
        for chunk in documents.chunks(WRITE_BATCH) {
            self.bulk(&fresh, chunk).await?;
            written += chunk.len();
            progress(written);
        }
        ok("refreshing", self.client.indices().refresh(IndicesRefreshParts::Index(&[&fresh])).send().await?).await?;
        let mut actions: Vec<Value> =
            previous.iter().map(|index| json!({ "remove": { "index": index, "alias": self.alias } })).collect();
        actions.push(json!({ "add": { "index": fresh, "alias": self.alias } }));
        let swapped = self.client.indices().update_aliases().body(json!({ "actions": actions })).send().await?;
        ok("swapping the alias", swapped).await?;
        if !previous.is_empty() {
            let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
            ok(
                "deleting the old index",
                self.client.indices().delete(IndicesDeleteParts::Index(&previous)).send().await?,
            )
            .await?;
        }
        Ok(())
    }

    async fn live_documents(&self) -> anyhow::Result<Vec<(Kind, Uuid, i64)>> {
        ok("refreshing", self.client.indices().refresh(IndicesRefreshParts::Index(&[&self.alias])).send().await?)
            .await?;
        let body = json!({
            "size": MAX_LISTED, "_source": false, "version": true,
            "query": { "match_all": {} }, "sort": [{ "key": "asc" }]
        });
        let response = self.client.search(SearchParts::Index(&[&self.alias])).body(body).send().await?;
        if !response.status_code().is_success() {
            return Err(failure("listing", response).await);
        }
        let answer: SearchAnswer = response.json().await?;
        let mut live = answer
            .hits
            .hits
            .into_iter()
            .map(|hit| {
                let (kind, id) = parse_document_id(&hit.id)?;
                Ok((kind, id, hit.version.unwrap_or(0)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        live.sort();
        Ok(live)
    }

    /// Elasticsearch forgets its own delete tombstones (`index.gc_deletes`).
    async fn prune(&self, _: DateTime<Utc>) -> anyhow::Result<u64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_requires_every_word_and_filters_by_owner_and_kind() {
        let viewer = Uuid::now_v7();
        let request = SearchRequest::parse(viewer, "Zürich rusta", Some(vec![Kind::Application]), Some(5)).unwrap();
        let body = search_body(&request);
        let must = body["query"]["bool"]["must"].as_array().unwrap();
        assert_eq!(must.len(), 2);
        assert_eq!(must[0]["multi_match"]["query"], "zürich");
        assert_eq!(must[0]["multi_match"]["fuzziness"], FUZZINESS);
        assert_eq!(must[1]["bool"]["should"][1]["multi_match"]["fields"][0], "primary.prefix^10");
        let filter = &body["query"]["bool"]["filter"];
        assert_eq!(filter[0]["terms"]["kind"], json!(["application"]));
        assert_eq!(filter[1]["bool"]["should"], json!([{ "term": { "owner": viewer.to_string() } }]));
        assert_eq!(body["size"], 5);
        assert_eq!(parse_document_id(&document_id(Kind::User, viewer)).unwrap(), (Kind::User, viewer));
    }
}
