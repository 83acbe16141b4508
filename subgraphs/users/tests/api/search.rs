use serde_json::json;

use crate::helpers::TestUsers;

const SEARCH: &str = "query($s: String!, $first: Int, $after: String) { users(search: $s, first: $first, after: $after) { totalCount edges { cursor node { fullName } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn search_is_case_insensitive_partial_and_ordered_by_name() {
    let app = TestUsers::spawn().await;
    let (_, viewer) = app.sign_up("Ada Lovelace").await;
    for name in ["Grace Hopper", "Adele Goldberg", "Alan Turing"] {
        app.sign_up(name).await;
    }

    let response = viewer.run(SEARCH, json!({ "s": "ADE" })).await;
    let users = &response.data()["users"];
    assert_eq!(users["totalCount"], 1);
    assert_eq!(users["edges"][0]["node"]["fullName"], "Adele Goldberg");

    let response = viewer.run(SEARCH, json!({ "s": " R " })).await;
    assert_eq!(response.error_field(), Some("search"), "one character is not a search");
    let response = viewer.run(SEARCH, json!({ "s": "er" })).await;
    let names: Vec<&str> = response.data()["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["fullName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Adele Goldberg", "Grace Hopper"]);

    // Wildcards are matched literally.
    let response = viewer.run(SEARCH, json!({ "s": "%%" })).await;
    assert_eq!(response.data()["users"]["totalCount"], 0);
}

#[tokio::test]
async fn a_search_for_percent_or_underscore_matches_them_literally() {
    let app = TestUsers::spawn().await;
    let (_, viewer) = app.sign_up("Viewer").await;
    for name in ["Ada 100% Remote", "Ada 1000 Remote", "Ann_Lee", "Annxlee"] {
        app.sign_up(name).await;
    }
    let found = async |search: &str| -> Vec<String> {
        let response = viewer.run(SEARCH, json!({ "s": search })).await;
        let edges = response.data()["users"]["edges"].as_array().unwrap().clone();
        edges.iter().map(|e| e["node"]["fullName"].as_str().unwrap().to_string()).collect()
    };

    assert_eq!(found("100%").await, ["Ada 100% Remote"], "% is not a wildcard");
    assert_eq!(found("n_l").await, ["Ann_Lee"], "_ is not a wildcard");
    assert_eq!(found("__").await, Vec::<String>::new(), "_ does not match every character");
    assert_eq!(found("a\\").await, Vec::<String>::new(), "a backslash is not an escape");
}

#[tokio::test]
async fn search_pages_with_stable_cursors() {
    let app = TestUsers::spawn().await;
    let (_, viewer) = app.sign_up("Viewer").await;
    for i in 0..7 {
        app.sign_up(&format!("Tester {i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let response = viewer.run(SEARCH, json!({ "s": "tester", "first": 3, "after": after })).await;
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
    let (_, viewer) = app.sign_up("Ada Lovelace").await;
    let too_many = viewer.run(SEARCH, json!({ "s": "ad", "first": 101 })).await;
    assert_eq!(too_many.error_field(), Some("first"));
    let bad_cursor = viewer.run(SEARCH, json!({ "s": "ad", "after": "garbage" })).await;
    assert_eq!(bad_cursor.error_field(), Some("after"));
    let long_search = viewer.run(SEARCH, json!({ "s": "a".repeat(101) })).await;
    assert_eq!(long_search.error_field(), Some("search"));
}

#[tokio::test]
async fn signed_out_callers_can_neither_search_nor_read_profiles() {
    let app = TestUsers::spawn().await;
    let (ada, _) = app.sign_up("Ada Lovelace").await;

    // The attack: an empty search listing every profile with e-mail and phone.
    let dump = app
        .users
        .run("{ users(search: \"\", first: 100) { totalCount edges { node { email phone } } } }", json!({}))
        .await;
    assert_eq!(dump.error_code(), "UNAUTHENTICATED");
    assert!(dump.body["data"].is_null(), "nothing listed: {}", dump.body);
    let search = app.users.run(SEARCH, json!({ "s": "lovelace" })).await;
    assert_eq!(search.error_code(), "UNAUTHENTICATED");
    let one = app.users.run("query($id: ID!) { user(id: $id) { email phone } }", json!({ "id": ada.user_id })).await;
    assert_eq!(one.error_code(), "UNAUTHENTICATED");
    assert_eq!(one.body["data"]["user"], json!(null), "{}", one.body);
}

#[tokio::test]
async fn entity_resolution_answers_an_exact_id_for_the_router() {
    // The router resolves `AuthPayload.user` of register/login/refreshToken
    // through `_entities`, and their caller has no token yet.
    let app = TestUsers::spawn().await;
    let (ada, _) = app.sign_up("Ada Lovelace").await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id fullName } } }";

    let representations =
        json!([{ "__typename": "User", "id": ada.user_id }, { "__typename": "User", "id": uuid::Uuid::now_v7() }]);
    let response = app.users.run(query, json!({ "r": representations })).await;

    assert_eq!(response.data()["_entities"], json!([{ "id": ada.user_id, "fullName": "Ada Lovelace" }, null]));
}
