//! One error type for every service and its single mapping to the GraphQL
//! error codes of the public contract (`extensions.code`). Internal causes are
//! logged with their whole chain and never sent to clients.

use async_graphql::ErrorExtensions;

pub type AppResult<T> = Result<T, AppError>;

/// The codes of the public contract (`extensions.code`), the only ones a
/// client ever sees. Calls to other subgraphs read them back into this enum
/// (`graphql::UpstreamError`), so code is matched, never compared as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadUserInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub const ALL: [Self; 7] = [
        Self::BadUserInput,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::RateLimited,
        Self::Internal,
    ];

    /// The code as it is written in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal => "INTERNAL",
        }
    }

    /// The code written as `code`, `None` for one outside the contract.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that can never succeed as given; `field` names the input path
    /// (e.g. `input.email`) so a form can highlight it.
    #[error("{message}")]
    BadUserInput { field: String, message: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// Also used for another user's private record: its existence is not revealed.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput { field: field.into(), message: message.into() }
    }

    pub fn unauthenticated() -> Self {
        Self::Unauthenticated("authentication required".into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The input field a BAD_USER_INPUT error names.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadUserInput { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Logs an internal error's whole cause chain (clients never see it).
    pub fn report(&self) {
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Internal(anyhow::anyhow!("database pool: {err}"))
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.report();
        let code = err.code();
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            match &err {
                AppError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                AppError::RateLimited { retry_after_secs } => ext.set("retryAfter", *retry_after_secs),
                _ => {}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_carries_code_and_field() {
        let err: async_graphql::Error = AppError::bad_input("input.email", "not an e-mail").into();
        let ext = err.extensions.expect("extensions");
        assert_eq!(ext.get("code"), Some(&async_graphql::Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&async_graphql::Value::from("input.email")));
        assert_eq!(err.message, "not an e-mail");
    }

    #[test]
    fn every_code_reads_back_as_itself() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("GRAPHQL_VALIDATION_FAILED"), None);
        assert_eq!(AppError::NotFound("user").code(), ErrorCode::NotFound);
    }

    #[test]
    fn internal_cause_is_never_sent_to_clients() {
        let err: async_graphql::Error =
            AppError::internal(anyhow::anyhow!("password=hunter2 connection refused")).into();
        assert_eq!(err.message, "internal error");
        let ext = err.extensions.expect("extensions");
        assert_eq!(ext.get("code"), Some(&async_graphql::Value::from("INTERNAL")));
    }
}
