//! Reading stored values back into domain types. A store converts each row
//! in one place (`TryFrom<Row>`); a value there that does not parse — an enum
//! name this code does not know, JSON of another shape, a NULL where the
//! domain needs a value — fails the read with an [`UnreadableValue`] naming
//! the table, column, row and value. It becomes an INTERNAL error whose cause
//! is logged (clients see `internal error`), and for a consumer a permanent
//! failure (the row will not read any better on the next attempt). Never a
//! panic, never a silent default.

use std::fmt;
use std::str::FromStr;

use crate::AppError;

/// A column of a table, to name where a value was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub table: &'static str,
    pub name: &'static str,
}

impl Column {
    pub const fn new(table: &'static str, name: &'static str) -> Self {
        Self { table, name }
    }

    /// The value of this column in `row` (its key), parsed with `FromStr`.
    pub fn parse<T>(self, row: impl fmt::Display, value: &str) -> Result<T, UnreadableValue>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        value.parse().map_err(|err| self.unreadable(row, Some(value), err))
    }

    /// The error for `value` (`None`: NULL) of this column in `row`.
    pub fn unreadable(self, row: impl fmt::Display, value: Option<&str>, reason: impl fmt::Display) -> UnreadableValue {
        UnreadableValue {
            column: self,
            row: row.to_string(),
            value: value.map(str::to_string),
            reason: reason.to_string(),
        }
    }
}

/// A stored value the domain cannot be built from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct UnreadableValue {
    pub column: Column,
    /// The row's key.
    pub row: String,
    /// `None`: NULL.
    pub value: Option<String>,
    pub reason: String,
}

impl fmt::Display for UnreadableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Column { table, name } = self.column;
        write!(f, "unreadable stored value: {table}.{name} of row {} is ", self.row)?;
        match &self.value {
            Some(value) => write!(f, "{value:?}")?,
            None => f.write_str("NULL")?,
        }
        write!(f, ": {}", self.reason)
    }
}

impl From<UnreadableValue> for AppError {
    fn from(err: UnreadableValue) -> Self {
        AppError::Internal(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::contracts::ApplicationStatus;

    const STATUS: Column = Column::new("applications", "status");

    #[test]
    fn an_unknown_value_names_table_column_row_and_value() {
        let err = STATUS.parse::<ApplicationStatus>(42, "ARCHIVED").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unreadable stored value: applications.status of row 42 is \"ARCHIVED\": unknown application status \
             \"ARCHIVED\" (expected one of SAVED, APPLIED, INTERVIEW, OFFER, REJECTED)"
        );
        assert_eq!(STATUS.parse::<ApplicationStatus>(42, "OFFER"), Ok(ApplicationStatus::Offer));
        assert!(STATUS.unreadable(7, None, "required").to_string().ends_with("of row 7 is NULL: required"));
    }

    #[test]
    fn it_is_an_internal_error_whose_cause_stays_in_the_logs() {
        let err: AppError = STATUS.unreadable(1, Some("X"), "unknown").into();
        assert_eq!(err.code(), crate::error::ErrorCode::Internal);
        let AppError::Internal(cause) = &err else { panic!("{err:?}") };
        assert!(format!("{cause:#}").contains("applications.status of row 1 is \"X\""));
        let graphql: async_graphql::Error = err.into();
        assert_eq!(graphql.message, "internal error");
    }
}
