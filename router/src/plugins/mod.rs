//! Our plugins for Hive Router, each a hook on Hive's request pipeline.

pub mod document;
pub mod errors;
pub mod gate;
pub mod metrics;
pub mod playground;
pub mod rate_limit;
pub mod ws_gate;

use hive_router::GraphQLError;
use hive_router::sonic_rs;

/// A client-facing error with one of our contract's codes.
pub(crate) fn graphql_error(message: &str, code: &str) -> GraphQLError {
    GraphQLError::from_message_and_code(message, code)
}

pub(crate) fn error_body(errors: Vec<GraphQLError>) -> Vec<u8> {
    sonic_rs::to_vec(&sonic_rs::json!({ "errors": errors })).unwrap_or_default()
}
