//! Relay cursor connections: `first` defaults to 20 and may not exceed 100;
//! cursors are opaque (base64url of the sort key) and stable because every
//! order is made total by ending with the row id.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::BoxableExpression;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::AppError;

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

/// Extra fields of every connection.
#[derive(SimpleObject)]
#[graphql(shareable)]
pub struct ConnectionTotals {
    /// Number of items matching the query, over all pages.
    pub total_count: i64,
}

pub type CountedConnection<N> = Connection<String, N, ConnectionTotals, EmptyFields>;

/// A validated page request with a decoded cursor of type `K`.
#[derive(Debug)]
pub struct PageRequest<K> {
    pub first: i64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, AppError> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (0..=MAX_PAGE_SIZE as i32).contains(&n) => n as i64,
            Some(_) => {
                return Err(AppError::bad_input("first", format!("first must be between 0 and {MAX_PAGE_SIZE}")));
            }
        };
        let after = after.map(|cursor| decode_cursor(&cursor)).transpose()?;
        Ok(Self { first, after })
    }

    /// Rows to fetch: one more than the page, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.first + 1
    }
}

pub fn encode_cursor(key: &impl Serialize) -> String {
    // checked: cursor keys are plain structs of strings and numbers; serialising cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys are plain data"))
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this list"))
}

/// Builds a connection from `first + 1` fetched rows.
pub fn connection<R, N, K>(
    mut rows: Vec<R>,
    page: &PageRequest<K>,
    total_count: i64,
    key_of: impl Fn(&R) -> K,
    node_of: impl Fn(R) -> N,
) -> CountedConnection<N>
where
    N: OutputType,
    K: Serialize,
{
    let has_next_page = rows.len() as i64 > page.first;
    rows.truncate(page.first as usize);
    let mut connection =
        Connection::with_additional_fields(page.after.is_some(), has_next_page, ConnectionTotals { total_count });
    connection.edges.extend(rows.into_iter().map(|row| {
        let cursor = encode_cursor(&key_of(&row));
        Edge::new(cursor, node_of(row))
    }));
    connection
}

/// Which way a list ordered by `(time, id)` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// The rows after the cursor `(at, id)` of a list ordered by `(time_column,
/// id)`, as one row comparison so that PostgreSQL walks the list's index from
/// the cursor. `time_column` is a column name written in the code, never input.
pub fn after_cursor<QS>(
    time_column: &'static str,
    direction: Direction,
    at: DateTime<Utc>,
    id: Uuid,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>> {
    let op = match direction {
        Direction::Ascending => ">",
        Direction::Descending => "<",
    };
    Box::new(
        sql::<Bool>(&format!("({time_column}, id) {op} ("))
            .bind::<Timestamptz, _>(within_postgres_range(at))
            .sql(", ")
            .bind::<SqlUuid, _>(id)
            .sql(")"),
    )
}

/// A forged cursor may carry any time chrono reads (year -200000); PostgreSQL
/// refuses times outside its range, so they are clamped to years 1900-9999,
/// well around every stored row: the page is then all or nothing, never an
/// error.
fn within_postgres_range(at: DateTime<Utc>) -> DateTime<Utc> {
    const EARLIEST: i64 = -2_208_988_800; // 1900-01-01T00:00:00Z
    const LATEST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    match (DateTime::from_timestamp(EARLIEST, 0), DateTime::from_timestamp(LATEST, 0)) {
        (Some(earliest), Some(latest)) => at.clamp(earliest, latest),
        _ => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_defaults_to_twenty() {
        let page = PageRequest::<String>::parse(None, None).unwrap();
        assert_eq!(page.first, 20);
        assert_eq!(page.fetch_limit(), 21);
    }

    #[test]
    fn first_above_hundred_or_negative_is_bad_input() {
        for first in [101, -1] {
            let err = PageRequest::<String>::parse(Some(first), None).unwrap_err();
            assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "first"), "{first}: {err:?}");
        }
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_bad_input() {
        let cursor = encode_cursor(&("Ada".to_string(), 7));
        let page = PageRequest::<(String, i32)>::parse(Some(5), Some(cursor)).unwrap();
        assert_eq!(page.after, Some(("Ada".to_string(), 7)));
        let err = PageRequest::<(String, i32)>::parse(Some(5), Some("%%%".into())).unwrap_err();
        assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "after"));
    }

    #[test]
    fn cursor_times_beyond_postgres_are_clamped() {
        let far: DateTime<Utc> = "+200000-01-01T00:00:00Z".parse().unwrap();
        let early: DateTime<Utc> = "-200000-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(within_postgres_range(far).to_rfc3339(), "9999-12-31T23:59:59+00:00");
        assert_eq!(within_postgres_range(early).to_rfc3339(), "1900-01-01T00:00:00+00:00");
        let now = Utc::now();
        assert_eq!(within_postgres_range(now), now);
    }
}
