//! The account use cases (register, login, refresh, logout), composed from
//! the domain rules in `model` and the transactions in `store`.

use std::sync::Arc;

use chrono::Duration;
use jobtracker_kit::db;
use jobtracker_kit::{AppError, AppResult};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::model::{DECOY_HASH, Email, FullName, Password, RefreshToken, hash_refresh_token, verify_password};
use crate::signing::{ACCESS_TOKEN_TTL_SECS, Signer};
use crate::store::{Account, RefreshRefusal, Store};

/// Brute-force throttle: at most `max_failures` login attempts per e-mail
/// within `window` (a successful login starts over). Each attempt is counted
/// before its password is checked, so concurrent guesses cannot all pass.
#[derive(Clone, Copy, Debug)]
pub struct LoginThrottle {
    pub max_failures: i64,
    pub window: Duration,
}

/// Bounds password hashing, the one expensive thing auth does for anonymous
/// callers (argon2: tens of milliseconds of a core and 19 MiB each). At most
/// `max_concurrent` hashes run and as many wait their turn; a request beyond
/// that is RATE_LIMITED at once rather than queued without bound, so a flood
/// of logins or registrations costs auth a fixed share of the machine.
#[derive(Clone, Debug)]
pub struct HashGate {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

/// A place in the hashing line, held from admission to the end of the hash.
pub struct HashPlace {
    _admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl HashGate {
    pub fn new(max_concurrent: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Self {
            running: Arc::new(Semaphore::new(max_concurrent)),
            admitted: Arc::new(Semaphore::new(max_concurrent * 2)),
        }
    }

    /// A place in line, or RATE_LIMITED (retry in a second) when the line is full.
    pub fn admit(&self) -> AppResult<HashPlace> {
        match self.admitted.clone().try_acquire_owned() {
            Ok(permit) => Ok(HashPlace { _admitted: permit, running: self.running.clone() }),
            Err(_) => {
                tracing::warn!("password hashing saturated, request refused");
                Err(AppError::RateLimited { retry_after_secs: 1 })
            }
        }
    }
}

impl HashPlace {
    /// Waits for a hashing slot, then runs `work` on a blocking thread (argon2
    /// must stay off the async workers). The slot is released when the work
    /// ends, even if the caller has gone away meanwhile.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> AppResult<T> {
        let slot = self.running.clone().acquire_owned().await.map_err(AppError::internal)?;
        let place = self;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop((slot, place));
            result
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }
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
    pub hashes: HashGate,
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
        let password_hash = self.hashes.admit()?.run(move || password.hash()).await?;
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
        // A malformed e-mail cannot belong to an account, nor a password
        // longer than registration allows: same answer as unknown, no hashing.
        let Ok(email) = Email::parse(email, "email") else {
            return Err(invalid_credentials());
        };
        if !Password::may_exist(password) {
            return Err(invalid_credentials());
        }
        // A place in the hashing line first: refused there, the attempt was
        // no guess and must not count against the e-mail.
        let place = self.hashes.admit()?;
        self.store.reserve_login_attempt(email.as_str(), self.throttle).await?;
        let account = self.store.account_by_email(email.as_str()).await?;
        let stored_hash = account.as_ref().map_or(DECOY_HASH, |a| a.password_hash.as_str()).to_string();
        let candidate = password.to_string();
        let matches = place.run(move || Ok(verify_password(&candidate, &stored_hash))).await?;
        match account {
            Some(account) if matches => {
                self.store.reset_login_attempts(email.as_str()).await?;
                let refresh = RefreshToken::generate();
                self.store.start_session(account.id, &refresh.hash).await?;
                self.session(account.id, refresh)
            }
            _ => Err(invalid_credentials()),
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
