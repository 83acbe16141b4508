//! auth's part of the supergraph: the four account mutations. `User` is
//! owned by the users subgraph; auth only returns references to it. A request
//! may hold at most one of `register`, `login` and `refreshToken` (`guard`).

use async_graphql::{Context, EmptySubscription, InputObject, Object, Result, Schema, SchemaBuilder, SimpleObject};
use jobtracker_kit::references::User;

use crate::service::{AuthService, Session};

pub type AuthSchema = Schema<Query, Mutation, EmptySubscription>;

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// JWT (EdDSA), short-lived.
    pub access_token: String,
    /// Opaque, rotating, single use.
    pub refresh_token: String,
    /// Seconds until accessToken expires.
    pub expires_in: i32,
    pub user: User,
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            expires_in: session.expires_in as i32,
            user: User::of(session.user_id),
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    pub full_name: String,
}

pub struct Query;

#[Object]
impl Query {
    /// Length, in seconds, of an access token's life.
    async fn access_token_lifetime(&self) -> i32 {
        crate::signing::ACCESS_TOKEN_TTL_SECS as i32
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in. At most one of register, login and
    /// refreshToken per request (BAD_USER_INPUT otherwise).
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let auth = ctx.data_unchecked::<AuthService>();
        Ok(auth.register(&input.email, &input.password, &input.full_name).await?.into())
    }

    /// Signs in. Unknown e-mail and wrong password fail alike (UNAUTHENTICATED);
    /// repeated attempts for one e-mail are throttled (RATE_LIMITED). At most
    /// one of register, login and refreshToken per request (BAD_USER_INPUT otherwise).
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<AuthPayload> {
        let auth = ctx.data_unchecked::<AuthService>();
        Ok(auth.login(&email, &password).await?.into())
    }

    /// Exchanges a refresh token for a new pair; the presented token is spent.
    /// At most one of register, login and refreshToken per request.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let auth = ctx.data_unchecked::<AuthService>();
        Ok(auth.refresh(&refresh_token).await?.into())
    }

    /// Revokes the login the refresh token belongs to; false when there was none.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let auth = ctx.data_unchecked::<AuthService>();
        Ok(auth.logout(&refresh_token).await?)
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .extension(async_graphql::extensions::Tracing)
        .extension(crate::guard::OneCredentialMutation)
}
