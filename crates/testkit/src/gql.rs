//! A GraphQL-over-HTTP client for tests, and the sign-up helper.

use serde_json::{Value, json};

#[derive(Clone)]
pub struct Gql {
    http: reqwest::Client,
    pub url: String,
    token: Option<String>,
}

/// A response: HTTP status and JSON body.
#[derive(Debug)]
pub struct GqlResponse {
    pub status: u16,
    pub body: Value,
}

impl GqlResponse {
    /// The data, asserting there were no errors.
    #[track_caller]
    pub fn data(&self) -> &Value {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.body);
        &self.body["data"]
    }

    pub fn errors(&self) -> &[Value] {
        self.body.get("errors").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// `extensions.code` of the first error.
    #[track_caller]
    pub fn error_code(&self) -> &str {
        self.errors()
            .first()
            .and_then(|e| e["extensions"]["code"].as_str())
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }

    /// `extensions.field` of the first error.
    pub fn error_field(&self) -> Option<&str> {
        self.errors().first().and_then(|e| e["extensions"]["field"].as_str())
    }
}

impl Gql {
    pub fn new(url: impl Into<String>) -> Self {
        Self { http: reqwest::Client::new(), url: url.into(), token: None }
    }

    /// The same endpoint, as the holder of `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_string()), ..self.clone() }
    }

    /// The same endpoint, with a raw `Authorization` value (for bad tokens).
    pub async fn run_with_authorization(&self, authorization: &str, query: &str, variables: Value) -> GqlResponse {
        self.send(Some(authorization.to_string()), query, variables).await
    }

    pub async fn run(&self, query: &str, variables: Value) -> GqlResponse {
        self.send(self.token.as_ref().map(|t| format!("Bearer {t}")), query, variables).await
    }

    /// A persisted (trusted) document by its id instead of its text.
    pub async fn run_document(&self, document_id: &str, variables: Value) -> GqlResponse {
        self.post(json!({ "documentId": document_id, "variables": variables })).await
    }

    async fn send(&self, authorization: Option<String>, query: &str, variables: Value) -> GqlResponse {
        self.post_as(authorization, json!({ "query": query, "variables": variables })).await
    }

    async fn post(&self, body: Value) -> GqlResponse {
        self.post_as(self.token.as_ref().map(|t| format!("Bearer {t}")), body).await
    }

    /// `run`, where the endpoint may be unreachable or answer something
    /// other than JSON (load under chaos): the error says what happened.
    pub async fn try_run(&self, query: &str, variables: Value) -> Result<GqlResponse, String> {
        let authorization = self.token.as_ref().map(|t| format!("Bearer {t}"));
        self.try_post_as(authorization, json!({ "query": query, "variables": variables })).await
    }

    async fn post_as(&self, authorization: Option<String>, body: Value) -> GqlResponse {
        self.try_post_as(authorization, body).await.unwrap_or_else(|err| panic!("{err}"))
    }

    async fn try_post_as(&self, authorization: Option<String>, body: Value) -> Result<GqlResponse, String> {
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.map_err(|err| format!("GraphQL endpoint unreachable: {err}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|err| format!("no response body: {err}"))?;
        let body = serde_json::from_str(&text).map_err(|_| format!("not JSON ({status}): {text}"))?;
        Ok(GqlResponse { status, body })
    }
}

/// A registered user and their tokens.
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub const REGISTER: &str =
    "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken expiresIn user { id } } }";

impl Account {
    /// Registers a new user with a unique e-mail.
    pub async fn register(gql: &Gql, full_name: &str) -> Account {
        let email = format!(
            "{}-{}@example.com",
            full_name.to_lowercase().replace(' ', "."),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let password = "correct horse battery staple".to_string();
        let response = gql
            .run(REGISTER, json!({ "input": { "email": email, "password": password, "fullName": full_name } }))
            .await;
        let payload = &response.data()["register"];
        Account {
            user_id: payload["user"]["id"].as_str().expect("user id").to_string(),
            email,
            password,
            full_name: full_name.to_string(),
            access_token: payload["accessToken"].as_str().expect("access token").to_string(),
            refresh_token: payload["refreshToken"].as_str().expect("refresh token").to_string(),
        }
    }
}
