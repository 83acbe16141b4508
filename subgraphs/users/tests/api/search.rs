use serde_json::json;

use crate::helpers::TestUsers;

const SEARCH: &str = "query($s: String!, $first: Int, $after: String) { users(search: $s, first: $first, after: $after) { totalCount edges { cursor node { fullName } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn search_is_case_insensitive_partial_and_ordered_by_name() {
    let app = TestUsers::spawn().await;
    for name in ["Ada Lovelace", "Grace Hopper", "Adele Goldberg", "Alan Turing"] {
        app.sign_up(name).await;
    }

    let response = app.users.run(SEARCH, json!({ "s": "ADE" })).await;
    let users = &response.data()["users"];
    assert_eq!(users["totalCount"], 1);
    assert_eq!(users["edges"][0]["node"]["fullName"], "Adele Goldberg");

    let response = app.users.run(SEARCH, json!({ "s": "a" })).await;
    let names: Vec<&str> = response.data()["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["fullName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada Lovelace", "Adele Goldberg", "Alan Turing", "Grace Hopper"]);

    // Wildcards are matched literally.
    let response = app.users.run(SEARCH, json!({ "s": "%" })).await;
    assert_eq!(response.data()["users"]["totalCount"], 0);
}

#[tokio::test]
async fn search_pages_with_stable_cursors() {
    let app = TestUsers::spawn().await;
    for i in 0..7 {
        app.sign_up(&format!("Tester {i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let response = app.users.run(SEARCH, json!({ "s": "tester", "first": 3, "after": after })).await;
        let users = &response.data()["users"];
        assert_eq!(users["totalCount"], 7);
        for edge in users["edges"].as_array().unwrap() {
            seen.push(edge["node"]["fullName"].as_str().unwrap().to_string());
        }
        if !users["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = users["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Tester {i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn page_size_and_cursor_are_validated() {
    let app = TestUsers::spawn().await;
    let too_many = app.users.run(SEARCH, json!({ "s": "a", "first": 101 })).await;
    assert_eq!(too_many.error_field(), Some("first"));
    let bad_cursor = app.users.run(SEARCH, json!({ "s": "a", "after": "garbage" })).await;
    assert_eq!(bad_cursor.error_field(), Some("after"));
    let long_search = app.users.run(SEARCH, json!({ "s": "a".repeat(101) })).await;
    assert_eq!(long_search.error_field(), Some("search"));
}
