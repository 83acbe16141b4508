//! Why applying an event failed, as the consumer needs to know it: a
//! transient failure (database, pool, broker, timeouts, another service
//! down) is retried until it succeeds — the queue waits; a permanent one
//! (a payload that does not decode, a contract the handler does not know, a
//! constraint the data can never meet, a stored value that does not read —
//! [`crate::stored::UnreadableValue`]) is dead-lettered at once, to be
//! replayed with `jobtracker events replay-dlq` after a fix.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later, unchanged.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Will fail the same way every time.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
}

pub type HandlerResult<T = ()> = Result<T, HandlerError>;

impl HandlerError {
    pub fn transient(err: impl Into<anyhow::Error>) -> Self {
        Self::Transient(err.into())
    }

    pub fn permanent(err: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(err.into())
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }

    /// Classifies an error by the first cause in its chain that says what it
    /// is; anything unrecognised is transient (retried and logged, never
    /// silently lost).
    pub fn classify(err: anyhow::Error) -> Self {
        let permanent = err.chain().find_map(|cause| {
            if let Some(db) = cause.downcast_ref::<DieselError>() {
                Some(diesel_is_permanent(db))
            } else if cause.is::<serde_json::Error>() || cause.is::<crate::stored::UnreadableValue>() {
                Some(true)
            } else if let Some(app) = cause.downcast_ref::<crate::AppError>() {
                // Internal errors carry their own cause further down the chain.
                (!matches!(app, crate::AppError::Internal(_))).then_some(true)
            } else {
                None
            }
        });
        if permanent == Some(true) { Self::Permanent(err) } else { Self::Transient(err) }
    }
}

/// Constraint violations and unreadable rows fail the same way on every
/// attempt; everything else (lost connections, serialisation conflicts,
/// a server shutting down, unknown errors) may pass on a later one.
fn diesel_is_permanent(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(kind, _) => matches!(
            kind,
            DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::RestrictViolation
                | DatabaseErrorKind::ExclusionViolation
        ),
        DieselError::DeserializationError(_) | DieselError::SerializationError(_) => true,
        _ => false,
    }
}

impl From<DieselError> for HandlerError {
    fn from(err: DieselError) -> Self {
        if diesel_is_permanent(&err) { Self::Permanent(err.into()) } else { Self::Transient(err.into()) }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for HandlerError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Transient(anyhow::Error::new(err).context("database pool"))
    }
}

impl From<crate::AppError> for HandlerError {
    fn from(err: crate::AppError) -> Self {
        Self::classify(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_outages_are_transient_and_violated_constraints_permanent() {
        let closed = DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new("gone".to_string()));
        assert!(!HandlerError::from(closed).is_permanent());
        let unique = DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, Box::new("dup".to_string()));
        assert!(HandlerError::from(unique).is_permanent());
        assert!(!HandlerError::from(DieselError::BrokenTransactionManager).is_permanent());
    }

    #[test]
    fn classification_looks_through_the_chain() {
        let bad_json = serde_json::from_str::<u8>("x").unwrap_err();
        assert!(HandlerError::classify(anyhow::Error::new(bad_json).context("decoding")).is_permanent());
        let not_found: anyhow::Error = crate::AppError::NotFound("application").into();
        assert!(HandlerError::classify(not_found).is_permanent());
        let internal: anyhow::Error = crate::AppError::internal(anyhow::anyhow!("connection refused")).into();
        assert!(!HandlerError::classify(internal).is_permanent());
        assert!(!HandlerError::classify(anyhow::anyhow!("timed out")).is_permanent());
    }

    #[test]
    fn an_unreadable_stored_row_is_permanent_even_inside_an_internal_error() {
        let column = crate::stored::Column::new("interviews", "interview_type");
        let unreadable: crate::AppError = column.unreadable(1, Some("VIDEO"), "unknown").into();
        let err = HandlerError::from(unreadable);
        assert!(err.is_permanent());
        assert!(err.to_string().contains("interviews.interview_type of row 1 is \"VIDEO\""), "{err}");
    }
}
