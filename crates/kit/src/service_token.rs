//! The credential of service-to-service calls (`/internal/…` routes, which
//! the router never exposes): a shared secret, `SERVICE_TOKEN`, sent by the
//! caller in the `X-Service-Token` header and compared in constant time by
//! the callee. Being on the private network is not enough: anything that
//! reaches a service's port (another container, a misrouted proxy, an SSRF)
//! would otherwise read what the internal routes answer.
//!
//! `jobtracker run --target all` generates one for its children when it is
//! unset. A service started on its own without it refuses every internal
//! call (and says why in its log): there is no open mode.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The header an internal call carries its credential in.
pub const HEADER: &str = "x-service-token";
/// The environment variable holding the secret.
pub const ENV: &str = "SERVICE_TOKEN";
/// Shorter secrets are refused at start: a guessable one is no credential.
pub const MIN_CHARS: usize = 32;

/// The shared secret. Its `Debug` never prints it.
#[derive(Clone)]
pub struct ServiceToken(String);

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceToken(***)")
    }
}

impl ServiceToken {
    /// `SERVICE_TOKEN`, when set; a present but too short value is a
    /// startup error, never silently ignored.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        match std::env::var(ENV) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value).map(Some),
            _ => Ok(None),
        }
    }

    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let token = raw.trim();
        if token.chars().count() < MIN_CHARS {
            anyhow::bail!("{ENV} must have at least {MIN_CHARS} characters (e.g. `openssl rand -hex 32`)");
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            anyhow::bail!("{ENV} must be printable ASCII without spaces (it travels in an HTTP header)");
        }
        Ok(Self(token.to_string()))
    }

    /// 32 random bytes, hex: what the supervisor and the tests use.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The value to send (and to hand to a child process).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison: the time taken does not tell how much of a
    /// guess was right (only whether its length was).
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// What an internal route accepts: the configured token, or (unset) nothing.
#[derive(Clone, Debug)]
pub struct InternalAccess {
    token: Option<ServiceToken>,
}

impl InternalAccess {
    /// Warns at start when internal calls will be refused.
    pub fn new(service: &str, token: Option<ServiceToken>) -> Self {
        if token.is_none() {
            tracing::warn!(service, "{ENV} is not set: every internal call to this service will be refused");
        }
        Self { token }
    }
}

/// Middleware for internal routes: 401 without the header, 403 with a wrong
/// one, and 403 with an error log when this service has no token at all.
pub async fn require_service_token(State(access): State<InternalAccess>, request: Request, next: Next) -> Response {
    let presented = request.headers().get(HEADER).map(|v| v.to_str().unwrap_or_default());
    let Some(token) = &access.token else {
        tracing::error!(path = %request.uri().path(), "internal call refused: {ENV} is not set on this service");
        return StatusCode::FORBIDDEN.into_response();
    };
    match presented {
        None => StatusCode::UNAUTHORIZED.into_response(),
        Some(presented) if token.matches(presented) => next.run(request).await,
        Some(_) => {
            tracing::warn!(path = %request.uri().path(), "internal call refused: wrong {HEADER}");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_unprintable_tokens_are_refused() {
        assert!(ServiceToken::parse("too-short").is_err());
        assert!(ServiceToken::parse(&format!("{} x", "a".repeat(40))).is_err());
        assert!(ServiceToken::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn generated_tokens_are_random_and_valid() {
        let (a, b) = (ServiceToken::generate(), ServiceToken::generate());
        assert_ne!(a.expose(), b.expose());
        assert!(ServiceToken::parse(a.expose()).is_ok());
    }

    #[test]
    fn only_the_exact_token_matches_and_debug_hides_it() {
        let token = ServiceToken::parse(&"s".repeat(40)).unwrap();
        assert!(token.matches(&"s".repeat(40)));
        assert!(!token.matches(&"s".repeat(39)));
        assert!(!token.matches(&format!("{}t", "s".repeat(39))));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "ServiceToken(***)");
    }
}
