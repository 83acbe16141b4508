use jobtracker_testkit::services::Running;
use jobtracker_testkit::{Account, Gql, TestEnv};

pub struct TestAuth {
    pub env: TestEnv,
    pub service: Running,
    pub gql: Gql,
}

impl TestAuth {
    pub async fn spawn() -> Self {
        let env = TestEnv::new();
        Self::spawn_in(env).await
    }

    /// Starts auth on an existing environment (same database): a restart.
    pub async fn spawn_in(env: TestEnv) -> Self {
        let service = jobtracker_testkit::spawn(&jobtracker_auth::SPEC, env.service_env(&jobtracker_auth::SPEC)).await;
        let gql = Gql::new(service.graphql_url());
        Self { env, service, gql }
    }

    /// auth's configuration in `env`, as the service table would build it.
    pub fn config(env: &TestEnv) -> jobtracker_auth::Config {
        jobtracker_auth::Config::load(&env.service_env(&jobtracker_auth::SPEC)).expect("auth's test configuration")
    }

    pub async fn register(&self, name: &str) -> Account {
        Account::register(&self.gql, name).await
    }
}

pub const LOGIN: &str = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken expiresIn user { id } } }";
pub const REFRESH: &str =
    "mutation($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken user { id } } }";
pub const LOGOUT: &str = "mutation($token: String!) { logout(refreshToken: $token) }";
