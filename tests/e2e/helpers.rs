use std::path::Path;

use jobtracker_testkit::{Account, Gql, RouterOptions, RouterProcess, Stack};

pub struct System {
    pub stack: Stack,
    pub router: RouterProcess,
    /// The router's /graphql, anonymous.
    pub gql: Gql,
}

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_jobtracker"))
}

impl System {
    pub async fn start() -> Self {
        Self::start_with(RouterOptions::default()).await
    }

    pub async fn start_with(options: RouterOptions) -> Self {
        Self::start_with_vars(options, &[]).await
    }

    /// Every service also reading `vars` (e.g. the files service on S3).
    pub async fn start_with_vars(options: RouterOptions, vars: &[(String, String)]) -> Self {
        let stack = Stack::start_with(jobtracker_services::SERVICES, vars).await;
        let router = RouterProcess::start(binary(), &stack, options).await;
        let gql = Gql::new(router.graphql_url());
        Self { stack, router, gql }
    }

    pub async fn sign_up(&self, name: &str) -> (Account, Gql) {
        let account = Account::register(&self.gql, name).await;
        let client = self.gql.with_token(&account.access_token);
        (account, client)
    }
}
