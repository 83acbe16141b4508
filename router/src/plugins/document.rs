//! Checks on a request's text made before Hive parses it. Hive's GraphQL
//! parser recurses once per nesting level, and on a router worker's stack a
//! document nested about 48 deep overflows it: a 400-byte anonymous request
//! then wedges the worker for good. So documents (and JSON bodies) nested
//! deeper than a legitimate one can be are refused up front, counted in one
//! pass without recursion. And one request may carry at most one credential
//! mutation, however the router would split it into fetches.

use hive_router::query_planner::ast::operation::OperationDefinition;
use hive_router::query_planner::ast::selection_item::SelectionItem;
use hive_router::query_planner::ast::selection_set::SelectionSet;

/// Deepest `{ ( [` nesting a document may have: well above what the depth
/// limit lets through (12 fields, plus input objects and lists), well below
/// the parser's breaking point.
pub const MAX_NESTING: usize = 40;

/// Deepest JSON nesting of a request body (variables are input objects).
pub const MAX_JSON_NESTING: usize = 64;

/// The mutations that check a password or mint tokens.
pub const CREDENTIAL_MUTATIONS: &[&str] = &["register", "login", "refreshToken"];

/// The deepest bracket nesting of a GraphQL document, ignoring strings,
/// block strings and comments.
pub fn graphql_nesting(document: &str) -> usize {
    let bytes = document.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The deepest nesting of a JSON text, ignoring strings.
pub fn json_nesting(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// How many credential mutations the operation's root selects (through
/// inline fragments too; aliases do not hide them).
pub fn credential_mutations(operation: &OperationDefinition) -> usize {
    fn count(selections: &SelectionSet) -> usize {
        selections
            .items
            .iter()
            .map(|item| match item {
                SelectionItem::Field(field) => usize::from(CREDENTIAL_MUTATIONS.contains(&field.name.as_str())),
                SelectionItem::InlineFragment(fragment) => count(&fragment.selections),
                SelectionItem::FragmentSpread(_) => 0,
            })
            .sum()
    }
    count(&operation.selection_set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(graphql_nesting("{ me { id } }"), 2);
        assert_eq!(graphql_nesting(r#"{ a(x: { y: [1] }) { b } }"#), 4);
        assert_eq!(
            graphql_nesting(
                r#"{ a(note: "{{{{{{ \" [[[") # {{{{
  { b } }"#
            ),
            2
        );
        assert_eq!(graphql_nesting(r#"{ a(note: """ {{{{ \""" {{{ """) }"#), 2);
        let deep = format!("{}b{}", "{ a ".repeat(60), " }".repeat(60));
        assert_eq!(graphql_nesting(&deep), 60);
    }

    #[test]
    fn json_nesting_ignores_brackets_in_strings() {
        assert_eq!(json_nesting(br#"{"query":"{ a { b { c } } }","variables":{"x":[1,[2]]}}"#), 4);
        assert_eq!(json_nesting(br#"{"q":"\"[[[[\\"}"#), 1);
        assert_eq!(json_nesting("[".repeat(100_000).as_bytes()), 100_000);
    }
}
