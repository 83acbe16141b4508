//! One credential mutation per request. `register`, `login` and
//! `refreshToken` are where an anonymous caller makes auth work (a password
//! hash, or a token lookup), and the router's rate limit spends one token per
//! request: 30 aliased `login`s in one request were 30 argon2 checks for the
//! price of one. The parsed document is inspected before anything runs, and a
//! request with more than one of them is refused whole, with BAD_USER_INPUT:
//! it can never succeed as sent, so "retry later" (RATE_LIMITED) would mislead.
//! See docs/decisions/0021-credential-mutations-one-per-request.md.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet};
use async_graphql::{Name, Pos, Positioned, ServerResult, Variables};
use jobtracker_kit::AppError;

/// The mutations that make auth check a credential or hash a password.
pub const CREDENTIAL_MUTATIONS: [&str; 3] = ["register", "login", "refreshToken"];

/// The extension, installed on auth's schema.
pub struct OneCredentialMutation;

impl ExtensionFactory for OneCredentialMutation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OneCredentialMutation)
    }
}

#[async_trait::async_trait]
impl Extension for OneCredentialMutation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // Only one operation of a document runs; each may hold one.
        for (_, operation) in document.operations.iter() {
            if operation.node.ty != OperationType::Mutation {
                continue;
            }
            let mut found = Found::default();
            found.walk(&operation.node.selection_set.node, &document.fragments);
            if let Some((key, pos)) = found.second {
                let err = AppError::bad_input(
                    key,
                    "at most one of register, login and refreshToken per request; send them one at a time",
                );
                return Err(async_graphql::Error::from(err).into_server_error(pos));
            }
        }
        Ok(document)
    }
}

/// Credential fields of one operation's root, by response key: identical
/// keys are merged by GraphQL and run once, so they count once. Fragments are
/// followed (each once: a cycle is caught by validation later, not here).
#[derive(Default)]
struct Found {
    keys: HashSet<Name>,
    fragments_seen: HashSet<Name>,
    second: Option<(String, Pos)>,
}

impl Found {
    fn walk(
        &mut self,
        set: &SelectionSet,
        fragments: &std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
    ) {
        for selection in &set.items {
            if self.second.is_some() {
                return;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if CREDENTIAL_MUTATIONS.contains(&field.name.node.as_str()) {
                        let key = field.response_key().node.clone();
                        if self.keys.insert(key.clone()) && self.keys.len() > 1 {
                            self.second = Some((key.to_string(), selection.pos));
                        }
                    }
                }
                Selection::InlineFragment(inline) => self.walk(&inline.node.selection_set.node, fragments),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if self.fragments_seen.insert(name.clone())
                        && let Some(fragment) = fragments.get(name)
                    {
                        self.walk(&fragment.node.selection_set.node, fragments);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(query: &str) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        document.operations.iter().find_map(|(_, operation)| {
            let mut found = Found::default();
            found.walk(&operation.node.selection_set.node, &document.fragments);
            found.second.map(|(key, _)| key)
        })
    }

    #[test]
    fn one_credential_mutation_passes() {
        assert_eq!(
            second("mutation { login(email: \"a\", password: \"b\") { accessToken } logout(refreshToken: \"x\") }"),
            None
        );
        // The same response key twice is merged and runs once.
        assert_eq!(
            second(
                "mutation { login(email: \"a\", password: \"b\") { accessToken } login(email: \"a\", password: \"b\") { refreshToken } }"
            ),
            None
        );
        // Two operations in a document: only one runs.
        assert_eq!(
            second(
                "mutation A { login(email: \"a\", password: \"b\") { accessToken } } mutation B { register(input: {email: \"a\", password: \"b\", fullName: \"c\"}) { accessToken } }"
            ),
            None
        );
        assert_eq!(second("{ a: accessTokenLifetime b: accessTokenLifetime }"), None);
    }

    #[test]
    fn aliases_fragments_and_mixes_are_counted() {
        assert_eq!(
            second("mutation { a: login(email: \"a\", password: \"b\") { accessToken } b: login(email: \"a\", password: \"c\") { accessToken } }").as_deref(),
            Some("b")
        );
        assert_eq!(
            second("mutation { login(email: \"a\", password: \"b\") { accessToken } refreshToken(refreshToken: \"x\") { accessToken } }").as_deref(),
            Some("refreshToken")
        );
        assert_eq!(
            second("mutation { ... on Mutation { a: register(input: {email: \"a\", password: \"b\", fullName: \"c\"}) { accessToken } } ...F } fragment F on Mutation { b: register(input: {email: \"d\", password: \"b\", fullName: \"c\"}) { accessToken } }").as_deref(),
            Some("b")
        );
        // A fragment cycle is left to validation; the walk ends.
        assert_eq!(
            second(
                "mutation { ...F } fragment F on Mutation { ...F login(email: \"a\", password: \"b\") { accessToken } }"
            ),
            None
        );
    }
}
