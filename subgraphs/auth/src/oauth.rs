//! OAuth2-style token endpoint beside the GraphQL mutations (RFC 6749 §4.3
//! password grant and §6 refresh): `POST /oauth/token`, form-encoded.
//! Same rules as `login` and `refreshToken`: same throttling, same rotation.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use jobtracker_kit::AppError;
use serde::Deserialize;
use serde_json::json;

use crate::service::{AuthService, Session};

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Json(json!({ "error": code, "error_description": description }))).into_response()
}

pub async fn token(State(auth): State<AuthService>, Form(request): Form<TokenRequest>) -> Response {
    let result = match request.grant_type.as_str() {
        "password" => match (request.username, request.password) {
            (Some(username), Some(password)) => auth.login(&username, &password).await,
            _ => return error(StatusCode::BAD_REQUEST, "invalid_request", "username and password are required"),
        },
        "refresh_token" => match request.refresh_token {
            Some(token) => auth.refresh(&token).await,
            None => return error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required"),
        },
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be password or refresh_token",
            );
        }
    };
    match result {
        Ok(session) => granted(session),
        Err(AppError::RateLimited { retry_after_secs }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many attempts, retry later");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(err @ (AppError::Unauthenticated(_) | AppError::BadUserInput { .. })) => {
            error(StatusCode::BAD_REQUEST, "invalid_grant", &err.to_string())
        }
        Err(err) => {
            err.report();
            error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
        }
    }
}

fn granted(session: Session) -> Response {
    let body = Json(json!({
        "access_token": session.access_token,
        "token_type": "Bearer",
        "expires_in": session.expires_in,
        "refresh_token": session.refresh_token,
    }));
    ([(header::CACHE_CONTROL, "no-store")], body).into_response()
}
