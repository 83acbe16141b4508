//! The PostgreSQL index (the default): one `tsvector` per entity, weighted
//! A (position, name) to D (description, notes), normalised by
//! `search_normalize` (lower case, `unaccent`, letters and digits only) on
//! both sides; the last word matched as a prefix (`:*`); typos through a
//! lexicon of the indexed words (`pg_trgm` finds candidates, `levenshtein`
//! keeps those within the allowed edits); ranked with `ts_rank_cd`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Double, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::Pool;
use jobtracker_kit::events::{HandlerError, HandlerResult};
use uuid::Uuid;

use crate::index::SearchIndex;
use crate::model::{Document, Hit, Kind, SearchRequest};

/// The owner of public documents.
const PUBLIC: Uuid = Uuid::nil();
const WRITE_BATCH: usize = 2_000;
/// Known words tried per typed word.
const NEAR_WORDS: i64 = 8;
/// Rank weights of D, C, B, A (ts_rank_cd's order).
const WEIGHTS: &str = "{0.1, 0.3, 0.6, 1.0}";

/// The weighted vector of four texts ($n..$n+3), as both writers build it.
macro_rules! words_sql {
    ($a:literal, $b:literal, $c:literal, $d:literal) => {
        concat!(
            "setweight(to_tsvector('simple', search_normalize(",
            $a,
            ")), 'A') || ",
            "setweight(to_tsvector('simple', search_normalize(",
            $b,
            ")), 'B') || ",
            "setweight(to_tsvector('simple', search_normalize(",
            $c,
            ")), 'C') || ",
            "setweight(to_tsvector('simple', search_normalize(",
            $d,
            ")), 'D')"
        )
    };
}

/// Adds the words of the documents just written (`upserted`, a CTE with
/// `words` and `deleted_at`) to the lexicon, in sorted order so that
/// concurrent writers never deadlock.
const LEXICON_FROM_UPSERTED: &str = "INSERT INTO lexicon (word) \
     SELECT DISTINCT w FROM upserted, unnest(tsvector_to_array(upserted.words)) AS w \
     WHERE upserted.deleted_at IS NULL AND char_length(w) BETWEEN 4 AND 64 ORDER BY w ON CONFLICT DO NOTHING";

#[derive(Clone)]
pub struct PgIndex {
    pool: Pool,
}

#[derive(diesel::QueryableByName)]
struct TypedWord {
    #[diesel(sql_type = Text)]
    word: String,
    #[diesel(sql_type = Array<Text>)]
    near: Vec<String>,
}

#[derive(diesel::QueryableByName)]
struct Ranked {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Double)]
    score: f64,
}

#[derive(diesel::QueryableByName)]
struct Live {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// A lexeme inside a `to_tsquery` text (quotes and backslashes escaped;
/// normalised words hold neither, this is the backstop).
fn quoted(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// `(a & b & c:*)` for the exact query and `(a | a1 | a2) & ...` with the
/// near words for the tolerant one. `words` is not empty.
fn tsqueries(words: &[TypedWord]) -> (String, String) {
    let last = words.len() - 1;
    let (mut exact, mut tolerant) = (Vec::new(), Vec::new());
    for (i, typed) in words.iter().enumerate() {
        let this = if i == last { format!("{}:*", quoted(&typed.word)) } else { quoted(&typed.word) };
        let alternatives: Vec<String> =
            std::iter::once(this.clone()).chain(typed.near.iter().map(|w| quoted(w))).collect();
        exact.push(this);
        tolerant.push(format!("({})", alternatives.join(" | ")));
    }
    (exact.join(" & "), tolerant.join(" & "))
}

fn parse_kind(stored: &str) -> anyhow::Result<Kind> {
    Kind::parse(stored).ok_or_else(|| anyhow::anyhow!("documents.kind {stored:?} is not a kind"))
}

impl PgIndex {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The typed words as the index normalises them, each with the known
    /// words within its allowed edits ([`crate::model::allowed_edits`]:
    /// none under 5 letters, 1 up to 7, 2 from 8), closest first.
    async fn typed_words(&self, conn: &mut AsyncPgConnection, words: &[String]) -> anyhow::Result<Vec<TypedWord>> {
        let typed = diesel::sql_query(
            "WITH typed AS ( \
                 SELECT w, n, CASE WHEN char_length(w) >= 8 THEN 2 WHEN char_length(w) >= 5 THEN 1 ELSE 0 END AS edits \
                 FROM unnest(string_to_array(search_normalize($1), ' ')) WITH ORDINALITY AS t(w, n) WHERE w <> '') \
             SELECT w AS word, coalesce(( \
                 SELECT array_agg(near.word ORDER BY near.closeness DESC, near.word) FROM ( \
                     SELECT word, similarity(word, w) AS closeness FROM lexicon \
                     WHERE edits > 0 AND char_length(w) <= 64 AND word % w AND word <> w \
                       AND levenshtein_less_equal(word, w, edits) <= edits \
                     ORDER BY closeness DESC, word LIMIT $2) AS near), '{}') AS near \
             FROM typed ORDER BY n",
        )
        .bind::<Text, _>(words.join(" "))
        .bind::<BigInt, _>(NEAR_WORDS)
        .load(conn)
        .await?;
        Ok(typed)
    }
}

#[async_trait]
impl SearchIndex for PgIndex {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn apply(&self, conn: &mut AsyncPgConnection, document: &Document) -> HandlerResult {
        let words = document.words.clone().unwrap_or_default();
        diesel::sql_query(
            concat!(
                "WITH upserted AS ( \
                 INSERT INTO documents (kind, id, owner_id, version, deleted_at, words, indexed_at) \
                 VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, ",
                words_sql!("$6", "$7", "$8", "$9"),
                ", now()) \
                 ON CONFLICT (kind, id) DO UPDATE SET owner_id = excluded.owner_id, version = excluded.version, \
                     deleted_at = excluded.deleted_at, words = excluded.words, indexed_at = excluded.indexed_at \
                 WHERE documents.version < excluded.version \
                 RETURNING words, deleted_at) ",
            )
            .to_string()
                + LEXICON_FROM_UPSERTED,
        )
        .bind::<Text, _>(document.kind.as_str())
        .bind::<SqlUuid, _>(document.id)
        .bind::<SqlUuid, _>(document.owner.unwrap_or(PUBLIC))
        .bind::<BigInt, _>(document.version)
        .bind::<Bool, _>(document.words.is_none())
        .bind::<Text, _>(&words.primary)
        .bind::<Text, _>(&words.secondary)
        .bind::<Text, _>(&words.location)
        .bind::<Text, _>(&words.body)
        .execute(conn)
        .await
        .map_err(|err| HandlerError::classify(err.into()))?;
        Ok(())
    }

    async fn search(&self, request: &SearchRequest) -> anyhow::Result<Vec<Hit>> {
        let mut conn = self.pool.get().await?;
        let typed = self.typed_words(&mut conn, &request.words).await?;
        if typed.is_empty() {
            return Ok(Vec::new());
        }
        let (exact, tolerant) = tsqueries(&typed);
        let kinds: Vec<&str> = request.kinds.iter().map(|kind| kind.as_str()).collect();
        let owners =
            if request.kinds.contains(&Kind::User) { vec![request.viewer, PUBLIC] } else { vec![request.viewer] };
        // Exact matches count twice: "rust" ranks a Rust engineer above a Rusty one.
        let ranked: Vec<Ranked> = diesel::sql_query(format!(
            "SELECT kind, id, (ts_rank_cd('{WEIGHTS}', words, tolerant) + ts_rank_cd('{WEIGHTS}', words, exact))::float8 AS score \
             FROM documents, to_tsquery('simple', $1) AS tolerant, to_tsquery('simple', $2) AS exact \
             WHERE owner_id = ANY($3) AND words @@ tolerant AND deleted_at IS NULL AND kind = ANY($4) \
             ORDER BY score DESC, kind, id LIMIT $5"
        ))
        .bind::<Text, _>(&tolerant)
        .bind::<Text, _>(&exact)
        .bind::<Array<SqlUuid>, _>(&owners)
        .bind::<Array<Text>, _>(&kinds)
        .bind::<BigInt, _>(request.limit as i64)
        .load(&mut conn)
        .await?;
        ranked.into_iter().map(|row| Ok(Hit { kind: parse_kind(&row.kind)?, id: row.id, score: row.score })).collect()
    }

    async fn replace_all(
        &self,
        documents: &[Document],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        // One transaction: searches read the old documents until it commits
        // (DELETE, not TRUNCATE, which would lock them out).
        conn.transaction(async |conn| -> anyhow::Result<()> {
            diesel::sql_query("SET LOCAL statement_timeout = 0").execute(conn).await?;
            diesel::sql_query("DELETE FROM documents").execute(conn).await?;
            let mut written = 0;
            for chunk in documents.chunks(WRITE_BATCH) {
                let column = |text: fn(&crate::model::Words) -> &str| -> Vec<&str> {
                    chunk.iter().map(|d| d.words.as_ref().map(text).unwrap_or("")).collect()
                };
                diesel::sql_query(
                    concat!(
                        "WITH upserted AS ( \
                         INSERT INTO documents (kind, id, owner_id, version, deleted_at, words) \
                         SELECT kind, id, owner_id, version, CASE WHEN deleted THEN now() END, ",
                        words_sql!("a", "b", "c", "d"),
                        " FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::boolean[], \
                                      $6::text[], $7::text[], $8::text[], $9::text[]) \
                                      AS t(kind, id, owner_id, version, deleted, a, b, c, d) \
                         ON CONFLICT (kind, id) DO UPDATE SET owner_id = excluded.owner_id, version = excluded.version, \
                             deleted_at = excluded.deleted_at, words = excluded.words, indexed_at = excluded.indexed_at \
                         WHERE documents.version < excluded.version \
                         RETURNING words, deleted_at) "
                    )
                    .to_string()
                        + LEXICON_FROM_UPSERTED,
                )
                .bind::<Array<Text>, _>(chunk.iter().map(|d| d.kind.as_str()).collect::<Vec<_>>())
                .bind::<Array<SqlUuid>, _>(chunk.iter().map(|d| d.id).collect::<Vec<_>>())
                .bind::<Array<SqlUuid>, _>(chunk.iter().map(|d| d.owner.unwrap_or(PUBLIC)).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(chunk.iter().map(|d| d.version).collect::<Vec<_>>())
                .bind::<Array<Bool>, _>(chunk.iter().map(|d| d.words.is_none()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(column(|w| &w.primary))
                .bind::<Array<Text>, _>(column(|w| &w.secondary))
                .bind::<Array<Text>, _>(column(|w| &w.location))
                .bind::<Array<Text>, _>(column(|w| &w.body))
                .execute(conn)
                .await?;
                written += chunk.len();
                progress(written);
            }
            Ok(())
        })
        .await
    }

    async fn live_documents(&self) -> anyhow::Result<Vec<(Kind, Uuid, i64)>> {
        let mut conn = self.pool.get().await?;
        let rows: Vec<Live> =
            diesel::sql_query("SELECT kind, id, version FROM documents WHERE deleted_at IS NULL ORDER BY kind, id")
                .load(&mut conn)
                .await?;
        rows.into_iter().map(|row| Ok((parse_kind(&row.kind)?, row.id, row.version))).collect()
    }

    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        let mut conn = self.pool.get().await?;
        let pruned = diesel::sql_query("DELETE FROM documents WHERE deleted_at < $1")
            .bind::<Nullable<Timestamptz>, _>(Some(before))
            .execute(&mut conn)
            .await?;
        Ok(pruned as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_is_a_prefix_and_near_words_are_alternatives() {
        let typed = |word: &str, near: &[&str]| TypedWord {
            word: word.into(),
            near: near.iter().map(|w| w.to_string()).collect(),
        };
        let (exact, tolerant) = tsqueries(&[typed("enginer", &["engineer"]), typed("rusta", &[])]);
        assert_eq!(exact, "'enginer' & 'rusta':*");
        assert_eq!(tolerant, "('enginer' | 'engineer') & ('rusta':*)");
        assert_eq!(quoted("o'b\\"), "'o''b\\\\'");
    }
}
