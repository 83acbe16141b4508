//! The account use cases (register, login, refresh, logout), composed from
//! the domain rules in `model` and the transactions in `store`.

use chrono::{Duration, Utc};
use jobtracker_kit::db;
use jobtracker_kit::{AppError, AppResult};
use uuid::Uuid;

use crate::model::{Email, FullName, Password, RefreshToken, decoy_hash, hash_refresh_token, verify_password};
use crate::signing::{ACCESS_TOKEN_TTL_SECS, Signer};
use crate::store::{Account, RefreshRefusal, Store};

/// Brute-force throttle: at most `max_failures` failed logins per e-mail
/// within `window`.
#[derive(Clone, Copy, Debug)]
pub struct LoginThrottle {
    pub max_failures: i64,
    pub window: Duration,
}

/// What a successful register, login or refresh hands out.
pub struct Session {
    pub user_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(Clone)]
pub struct AuthService {
    pub store: Store,
    pub signer: Signer,
    pub throttle: LoginThrottle,
}

fn invalid_credentials() -> AppError {
    // Same message for an unknown e-mail and a wrong password.
    AppError::Unauthenticated("invalid e-mail or password".into())
}

impl AuthService {
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &str, password: &str, full_name: &str) -> AppResult<Session> {
        let email = Email::parse(email, "input.email")?;
        let password = Password::parse(password, "input.password")?;
        let full_name = FullName::parse(full_name, "input.fullName")?;
        let password_hash = blocking(move || password.hash()).await?;
        let account = Account {
            id: Uuid::now_v7(),
            email: email.as_str().to_string(),
            password_hash,
            full_name: full_name.as_str().to_string(),
            created_at: db::now(),
        };
        let refresh = RefreshToken::generate();
        self.store.register(&account, &refresh.hash).await?;
        tracing::info!(user_id = %account.id, "account registered");
        self.session(account.id, refresh)
    }

    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> AppResult<Session> {
        // A malformed e-mail cannot belong to an account: same answer as unknown.
        let Ok(email) = Email::parse(email, "email") else {
            return Err(invalid_credentials());
        };
        let (failures, oldest) = self.store.recent_failures(email.as_str(), self.throttle.window).await?;
        if failures >= self.throttle.max_failures {
            let retry_at = oldest.unwrap_or_else(Utc::now) + self.throttle.window;
            let retry_after_secs = (retry_at - db::now()).num_seconds().max(1) as u64;
            return Err(AppError::RateLimited { retry_after_secs });
        }
        let account = self.store.account_by_email(email.as_str()).await?;
        let stored_hash = account.as_ref().map_or_else(|| decoy_hash().to_string(), |a| a.password_hash.clone());
        let candidate = password.to_string();
        let matches = blocking(move || Ok(verify_password(&candidate, &stored_hash))).await?;
        match account {
            Some(account) if matches => {
                self.store.clear_failures(email.as_str()).await?;
                let refresh = RefreshToken::generate();
                self.store.start_session(account.id, &refresh.hash).await?;
                self.session(account.id, refresh)
            }
            _ => {
                self.store.record_failure(email.as_str(), self.throttle.window).await?;
                Err(invalid_credentials())
            }
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, presented: &str) -> AppResult<Session> {
        let next = RefreshToken::generate();
        match self.store.rotate_refresh_token(&hash_refresh_token(presented), &next.hash).await? {
            Ok(user_id) => self.session(user_id, next),
            Err(RefreshRefusal::Reused) => Err(AppError::Unauthenticated(
                "refresh token was already used; the login has been revoked, sign in again".into(),
            )),
            Err(RefreshRefusal::Unknown | RefreshRefusal::ExpiredOrRevoked) => {
                Err(AppError::Unauthenticated("refresh token is invalid, expired or revoked".into()))
            }
        }
    }

    pub async fn logout(&self, presented: &str) -> AppResult<bool> {
        self.store.revoke_session(&hash_refresh_token(presented)).await
    }

    fn session(&self, user_id: Uuid, refresh: RefreshToken) -> AppResult<Session> {
        Ok(Session {
            user_id,
            access_token: self.signer.access_token(user_id).map_err(AppError::internal)?,
            refresh_token: refresh.token,
            expires_in: ACCESS_TOKEN_TTL_SECS,
        })
    }
}

/// argon2 is deliberately slow: keep it off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)?.map_err(AppError::internal)
}
