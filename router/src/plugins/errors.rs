//! Clients only ever see the error codes of our contract. Hive has about a
//! hundred codes of its own. A request refused before anything executed
//! (parse, validation, limits, a malformed body) is the client's mistake:
//! BAD_USER_INPUT, message kept. Anything else that is not one of our codes
//! (a subgraph that is down, timed out or answered garbage, a planner
//! failure, an error without a code) becomes INTERNAL with a masked message,
//! and the original is logged.
//!
//! HTTP responses are rewritten in Hive's hooks; WebSocket messages, which
//! Hive writes itself, are rewritten by the gate's relay (`rewrite_message`).

use std::sync::atomic::{AtomicBool, Ordering};

use hive_router::GraphQLError;
use serde_json::Value;

use super::metrics;

/// The codes of the public contract (see the API's header comment).
pub const CONTRACT_CODES: &[&str] =
    &["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "RATE_LIMITED", "INTERNAL"];

/// Hive's codes for its own failures before execution (InternalPipelineError).
const INTERNAL_PIPELINE_CODES: &[&str] = &[
    "GATEWAY_TIMEOUT",
    "GRAPHQL_PARSE_MINIFY_FAILED",
    "HEADER_PROPAGATION_FAILURE",
    "INTERNAL_SERVER_ERROR",
    "INTROSPECTION_PERMISSION_EVALUATION_ERROR",
    "JWT_FORWARDING_ERROR",
    "NO_SUPERGRAPH_AVAILABLE",
    "OVERRIDE_LABEL_EVALUATION_FAILED",
    "PERSISTED_DOCUMENT_ID_EXPRESSION_EVALUATION_ERROR",
    "PERSISTED_DOCUMENT_RESOLUTION_FAILED",
    "PLAN_EXECUTION_FAILED",
    "QUERY_PLAN_BUILD_FAILED",
    "QUERY_PLAN_SERIALIZATION_FAILED",
    "RESPONSE_COMPRESSION_FAILED",
    "SUPERGRAPH_RUNTIME_ERROR",
];

pub const MASKED_MESSAGE: &str = "internal error";

/// The message of a request refused before execution in production mode:
/// Hive's parse and validation messages describe the schema ("Did you
/// mean…?"), which production does not reveal.
pub const MASKED_REQUEST_MESSAGE: &str = "invalid request";

static MASK_REQUEST_ERRORS: AtomicBool = AtomicBool::new(false);

/// Production mode: refusals before execution keep their code, not their message.
pub fn mask_request_errors(mask: bool) {
    MASK_REQUEST_ERRORS.store(mask, Ordering::Relaxed);
}

fn masked_request_message() -> Option<&'static str> {
    MASK_REQUEST_ERRORS.load(Ordering::Relaxed).then_some(MASKED_REQUEST_MESSAGE)
}

/// Where an error arose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The request was refused before execution (Hive's pipeline).
    Pipeline,
    /// During execution: subgraph answers and fetches.
    Execution,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    Recode(&'static str),
    Mask,
}

fn verdict(code: Option<&str>, stage: Stage) -> Verdict {
    let Some(code) = code else { return Verdict::Mask };
    if CONTRACT_CODES.contains(&code) {
        return Verdict::Keep;
    }
    let internal = INTERNAL_PIPELINE_CODES.contains(&code)
        || ["SUBGRAPH_", "SUBREQUEST_", "COPROCESSOR_"].iter().any(|prefix| code.starts_with(prefix));
    match stage {
        _ if internal => Verdict::Mask,
        Stage::Pipeline if code == "UNAUTHORIZED_OPERATION" => Verdict::Recode("FORBIDDEN"),
        // Client errors of the pipeline, and the validation rules' own codes.
        Stage::Pipeline => Verdict::Recode("BAD_USER_INPUT"),
        Stage::Execution => Verdict::Mask,
    }
}

fn log_masked(code: Option<&str>, service: Option<&str>, message: &str) {
    tracing::warn!(
        code = code.unwrap_or_default(),
        service = service.unwrap_or_default(),
        message,
        "internal error masked for the client"
    );
}

/// Rewrites `error` in place to a contract code.
pub fn to_contract(error: &mut GraphQLError, stage: Stage) {
    match verdict(error.extensions.code.as_deref(), stage) {
        Verdict::Keep => {}
        Verdict::Recode(code) => {
            error.extensions.code = Some(code.into());
            if let Some(message) = masked_request_message() {
                error.message = message.into();
            }
        }
        Verdict::Mask => {
            log_masked(error.extensions.code.as_deref(), error.extensions.service_name.as_deref(), &error.message);
            error.message = MASKED_MESSAGE.into();
            error.extensions.code = Some("INTERNAL".into());
            error.extensions.service_name = None;
            error.extensions.extensions.clear();
        }
    }
    metrics::client_error(error.extensions.code.as_deref().unwrap_or("INTERNAL"));
}

/// The same, on an error already serialised as JSON.
fn json_to_contract(error: &mut Value, stage: Stage) {
    let code = error["extensions"]["code"].as_str().map(str::to_owned);
    match verdict(code.as_deref(), stage) {
        Verdict::Keep => {}
        Verdict::Recode(new) => {
            error["extensions"]["code"] = new.into();
            if let Some(message) = masked_request_message() {
                error["message"] = message.into();
            }
        }
        Verdict::Mask => {
            log_masked(code.as_deref(), error["extensions"]["serviceName"].as_str(), &error["message"].to_string());
            *error = serde_json::json!({ "message": MASKED_MESSAGE, "extensions": { "code": "INTERNAL" } });
        }
    }
    metrics::client_error(error["extensions"]["code"].as_str().unwrap_or("INTERNAL"));
}

/// A graphql-transport-ws message from Hive, its errors (if any) rewritten.
pub fn rewrite_message(message: &mut Value) {
    match message["type"].as_str() {
        // `error`: the operation was refused before it ran.
        // (`get_mut`, not indexing: indexing a missing key would add it.)
        Some("error") => {
            if let Some(errors) = message.get_mut("payload").and_then(Value::as_array_mut) {
                errors.iter_mut().for_each(|e| json_to_contract(e, Stage::Pipeline));
            }
        }
        Some("next") => {
            let errors = message.get_mut("payload").and_then(|p| p.get_mut("errors")).and_then(Value::as_array_mut);
            if let Some(errors) = errors {
                errors.iter_mut().for_each(|e| json_to_contract(e, Stage::Execution));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(code: Option<&str>, message: &str, stage: Stage) -> GraphQLError {
        let mut error = match code {
            Some(code) => GraphQLError::from_message_and_code(message, code),
            None => GraphQLError::from_message_and_extensions(message, Default::default()),
        };
        to_contract(&mut error, stage);
        error
    }

    #[test]
    fn contract_codes_pass_unchanged() {
        let error = mapped(Some("NOT_FOUND"), "no such application", Stage::Execution);
        assert_eq!(
            (error.extensions.code.as_deref(), error.message.as_str()),
            (Some("NOT_FOUND"), "no such application")
        );
    }

    #[test]
    fn transport_failures_are_internal_and_masked() {
        for (code, stage) in [
            (Some("SUBREQUEST_HTTP_ERROR"), Stage::Execution),
            (Some("SUBGRAPH_REQUEST_TIMEOUT"), Stage::Execution),
            (Some("PLAN_EXECUTION_FAILED"), Stage::Pipeline),
            (None, Stage::Execution),
        ] {
            let error = mapped(code, "error sending request for url (http://10.0.0.7:4005/graphql)", stage);
            assert_eq!(error.extensions.code.as_deref(), Some("INTERNAL"), "{code:?}");
            assert_eq!(error.message, MASKED_MESSAGE);
        }
    }

    #[test]
    fn requests_refused_before_execution_keep_their_message_as_bad_user_input() {
        for code in ["GRAPHQL_VALIDATION_FAILED", "FieldsOnCorrectType", "MAX_DEPTH_EXCEEDED", "BAD_REQUEST"] {
            let error = mapped(Some(code), "Cannot query field \"nope\" on type \"Query\".", Stage::Pipeline);
            assert_eq!(error.extensions.code.as_deref(), Some("BAD_USER_INPUT"), "{code}");
            assert!(error.message.contains("nope"));
        }
    }

    #[test]
    fn websocket_messages_are_rewritten_only_when_they_carry_errors() {
        let rewritten = |text: &str| {
            let mut message: Value = serde_json::from_str(text).unwrap();
            rewrite_message(&mut message);
            message.to_string()
        };
        let push = r#"{"id":"1","payload":{"data":{"a":1}},"type":"next"}"#;
        assert_eq!(rewritten(push), push);
        let refused = rewritten(
            r#"{"id":"1","type":"error","payload":[{"message":"Validation errors","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}"#,
        );
        assert!(refused.contains("BAD_USER_INPUT") && !refused.contains("GRAPHQL_"), "{refused}");
        let failed = rewritten(
            r#"{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"connect 10.0.0.7","extensions":{"code":"SUBREQUEST_HTTP_ERROR"}}]}}"#,
        );
        assert!(failed.contains(MASKED_MESSAGE) && !failed.contains("10.0.0.7"), "{failed}");
    }
}
