//! auth's database: accounts, refresh tokens, signing keys and login attempts.
//! Each method is one transaction; events go to the outbox in the same one.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Double, Integer, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use jobtracker_kit::db::Pool;
use jobtracker_kit::events::contracts::{USER_REGISTERED, UserRegistered};
use jobtracker_kit::events::{Envelope, Outbox, Publisher};
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::service::LoginThrottle;

mod tables {
    diesel::table! {
        accounts (id) {
            id -> Uuid,
            email -> Text,
            password_hash -> Text,
            full_name -> Text,
            created_at -> Timestamptz,
        }
    }
    diesel::table! {
        refresh_tokens (token_hash) {
            token_hash -> Bytea,
            account_id -> Uuid,
            family_id -> Uuid,
            issued_at -> Timestamptz,
            expires_at -> Timestamptz,
            used_at -> Nullable<Timestamptz>,
            revoked_at -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        signing_keys (kid) {
            kid -> Text,
            private_key_der -> Bytea,
            public_key -> Bytea,
            created_at -> Timestamptz,
            retired_at -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        login_attempts (email) {
            email -> Text,
            attempts -> Int4,
            window_start -> Timestamptz,
        }
    }
}
use tables::{accounts, login_attempts, refresh_tokens, signing_keys};

pub const REFRESH_TOKEN_TTL_DAYS: i64 = 30;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key_der: Vec<u8>,
    pub public_key: Vec<u8>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct StoredRefreshToken {
    account_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Attempts {
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

#[derive(QueryableByName)]
struct RetryAfter {
    #[diesel(sql_type = BigInt)]
    retry_after_secs: i64,
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefusal {
    Unknown,
    ExpiredOrRevoked,
    /// Presented again after rotation: the whole login was revoked.
    Reused,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    publisher: Publisher,
}

impl Store {
    pub fn new(pool: Pool, outbox: Outbox) -> Self {
        Self { publisher: Publisher::new(pool.clone(), outbox), pool }
    }

    /// Creates the account, its first refresh token and the `user.registered`
    /// event in one transaction. A taken e-mail is CONFLICT.
    #[tracing::instrument(skip_all, fields(user_id = %account.id))]
    pub async fn register(&self, account: &Account, refresh_hash: &[u8]) -> AppResult<()> {
        let event = Envelope::new(
            USER_REGISTERED,
            account.id,
            account.id,
            1,
            &UserRegistered {
                user_id: account.id,
                email: account.email.clone(),
                full_name: account.full_name.clone(),
                registered_at: account.created_at,
            },
        );
        self.publisher
            .transaction(async |conn, events| -> AppResult<()> {
                diesel::insert_into(accounts::table)
                    .values((
                        accounts::id.eq(account.id),
                        accounts::email.eq(&account.email),
                        accounts::password_hash.eq(&account.password_hash),
                        accounts::full_name.eq(&account.full_name),
                        accounts::created_at.eq(account.created_at),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|err| match err {
                        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                            AppError::Conflict("an account with this e-mail already exists".into())
                        }
                        other => other.into(),
                    })?;
                insert_refresh_token(conn, account.id, Uuid::now_v7(), refresh_hash).await?;
                events.record(event);
                Ok(())
            })
            .await
    }

    pub async fn account_by_email(&self, email: &str) -> AppResult<Option<Account>> {
        let mut conn = self.pool.get().await?;
        Ok(accounts::table
            .filter(accounts::email.eq(email))
            .select(Account::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    pub async fn account_by_id(&self, id: Uuid) -> AppResult<Option<Account>> {
        let mut conn = self.pool.get().await?;
        Ok(accounts::table.find(id).select(Account::as_select()).first(&mut conn).await.optional()?)
    }

    /// Counts a login attempt for the e-mail before its password is checked,
    /// or refuses it (RATE_LIMITED) when the window already holds
    /// `max_failures`. One statement: the row lock taken by `ON CONFLICT DO
    /// UPDATE` makes concurrent attempts count one after another, so no more
    /// than `max_failures` of them ever get through, however many arrive at once.
    #[tracing::instrument(skip_all)]
    pub async fn reserve_login_attempt(&self, email: &str, throttle: LoginThrottle) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        let window_secs = throttle.window.num_seconds() as f64;
        let counted = diesel::sql_query(
            "INSERT INTO login_attempts AS a (email, attempts, window_start) VALUES ($1, 1, now()) \
             ON CONFLICT (email) DO UPDATE SET \
                 attempts = CASE WHEN a.window_start <= now() - make_interval(secs => $3) THEN 1 ELSE a.attempts + 1 END, \
                 window_start = CASE WHEN a.window_start <= now() - make_interval(secs => $3) THEN now() ELSE a.window_start END \
             WHERE a.window_start <= now() - make_interval(secs => $3) OR a.attempts < $2 \
             RETURNING a.attempts",
        )
        .bind::<Text, _>(email)
        .bind::<BigInt, _>(throttle.max_failures)
        .bind::<Double, _>(window_secs)
        .get_result::<Attempts>(&mut conn)
        .await
        .optional()?;
        if let Some(counted) = counted {
            tracing::debug!(attempt = counted.attempts, "login attempt counted");
            return Ok(());
        }
        // Refused: when the window ends, for the client's retryAfter.
        let retry = diesel::sql_query(
            "SELECT GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => $2) - now())))::int8 \
             AS retry_after_secs FROM login_attempts WHERE email = $1",
        )
        .bind::<Text, _>(email)
        .bind::<Double, _>(window_secs)
        .get_result::<RetryAfter>(&mut conn)
        .await
        .optional()?;
        let retry_after_secs = retry.map_or(throttle.window.num_seconds(), |r| r.retry_after_secs).max(1) as u64;
        Err(AppError::RateLimited { retry_after_secs })
    }

    /// A successful login starts the count over.
    pub async fn reset_login_attempts(&self, email: &str) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        diesel::delete(login_attempts::table.find(email)).execute(&mut conn).await?;
        Ok(())
    }

    /// Starts a new login family with its first refresh token.
    pub async fn start_session(&self, account_id: Uuid, refresh_hash: &[u8]) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        insert_refresh_token(&mut conn, account_id, Uuid::now_v7(), refresh_hash).await?;
        Ok(())
    }

    /// Single-use rotation: marks the presented token used and stores its
    /// successor in the same family. A reused token revokes the family (the
    /// token was stolen, or the client is confused: either way, log in again).
    #[tracing::instrument(skip_all)]
    pub async fn rotate_refresh_token(
        &self,
        presented_hash: &[u8],
        next_hash: &[u8],
    ) -> AppResult<Result<Uuid, RefreshRefusal>> {
        let mut conn = self.pool.get().await?;
        conn.transaction(async |conn| -> AppResult<Result<Uuid, RefreshRefusal>> {
            let Some(stored) = refresh_tokens::table
                .find(presented_hash)
                .select(StoredRefreshToken::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(Err(RefreshRefusal::Unknown));
            };
            if stored.revoked_at.is_some() || stored.expires_at <= Utc::now() {
                return Ok(Err(RefreshRefusal::ExpiredOrRevoked));
            }
            if stored.used_at.is_some() {
                revoke_family(conn, stored.family_id).await?;
                tracing::warn!(user_id = %stored.account_id, "refresh token reused, login revoked");
                return Ok(Err(RefreshRefusal::Reused));
            }
            diesel::update(refresh_tokens::table.find(presented_hash))
                .set(refresh_tokens::used_at.eq(Utc::now()))
                .execute(conn)
                .await?;
            insert_refresh_token(conn, stored.account_id, stored.family_id, next_hash).await?;
            Ok(Ok(stored.account_id))
        })
        .await
    }

    /// Revokes the login the token belongs to; false when the token is unknown
    /// or that login was already revoked.
    pub async fn revoke_session(&self, presented_hash: &[u8]) -> AppResult<bool> {
        let mut conn = self.pool.get().await?;
        let family: Option<Uuid> = refresh_tokens::table
            .find(presented_hash)
            .filter(refresh_tokens::revoked_at.is_null())
            .select(refresh_tokens::family_id)
            .first(&mut conn)
            .await
            .optional()?;
        match family {
            Some(family) => Ok(revoke_family(&mut conn, family).await? > 0),
            None => Ok(false),
        }
    }

    /// The active signing key, created on first start.
    pub async fn active_signing_key(
        &self,
        generate: impl FnOnce() -> anyhow::Result<SigningKeyRow>,
    ) -> anyhow::Result<SigningKeyRow> {
        let mut conn = self.pool.get().await?;
        let active =
            || signing_keys::table.filter(signing_keys::retired_at.is_null()).select(SigningKeyRow::as_select());
        if let Some(row) = active().first(&mut conn).await.optional()? {
            return Ok(row);
        }
        // Concurrent first starts: the unique index lets one insert win.
        diesel::insert_into(signing_keys::table)
            .values(generate()?)
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        Ok(active().first(&mut conn).await?)
    }
}

async fn insert_refresh_token(
    conn: &mut diesel_async::AsyncPgConnection,
    account_id: Uuid,
    family_id: Uuid,
    hash: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::account_id.eq(account_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::expires_at.eq(Utc::now() + Duration::days(REFRESH_TOKEN_TTL_DAYS)),
        ))
        .execute(conn)
        .await
        .map(drop)
}

async fn revoke_family(conn: &mut diesel_async::AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table.filter(refresh_tokens::family_id.eq(family_id).and(refresh_tokens::revoked_at.is_null())),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}
