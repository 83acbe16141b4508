use serde_json::{Value, json};

use crate::helpers::{TestContacts, create};

fn names(response: &Value) -> Vec<&str> {
    response["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn search_matches_name_company_or_position_case_insensitively() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;
    create(&me, json!({ "name": "Grace Hopper", "company": "US Navy", "position": "Admiral" })).await;
    create(&me, json!({ "name": "Linus", "company": "Linux Foundation" })).await;
    create(&me, json!({ "name": "Margaret Hamilton", "position": "Software Engineering Lead" })).await;

    let search = async |term: &str| {
        let response = me
            .run(
                "query($s: String) { contacts(search: $s) { totalCount edges { node { name } } } }",
                json!({ "s": term }),
            )
            .await;
        response.data()["contacts"].clone()
    };
    assert_eq!(names(&search("HOPPER").await), ["Grace Hopper"]);
    assert_eq!(names(&search("navy").await), ["Grace Hopper"]);
    assert_eq!(names(&search("engineering").await), ["Margaret Hamilton"]);
    assert_eq!(names(&search("lin").await), ["Linus"]);
    let all = search("  ").await;
    assert_eq!(
        (all["totalCount"].clone(), names(&all)),
        (json!(3), vec!["Margaret Hamilton", "Linus", "Grace Hopper"])
    );
    let none = search("navy linux").await;
    assert_eq!(none["totalCount"], 0, "a term never spans two fields");

    let too_long =
        me.run("query($s: String) { contacts(search: $s) { totalCount } }", json!({ "s": "x".repeat(101) })).await;
    assert_eq!((too_long.error_code(), too_long.error_field()), ("BAD_USER_INPUT", Some("search")));
}

#[tokio::test]
async fn percent_and_underscore_match_literally() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;
    create(&me, json!({ "name": "Ada", "company": "100% Remote" })).await;
    create(&me, json!({ "name": "Bob", "company": "1000 Remote" })).await;
    create(&me, json!({ "name": "snake_case fan" })).await;
    create(&me, json!({ "name": "snakeXcase fan" })).await;

    let search = async |term: &str| {
        let response = me
            .run("query($s: String) { contacts(search: $s) { edges { node { name } } } }", json!({ "s": term }))
            .await;
        response.data()["contacts"].clone()
    };
    assert_eq!(names(&search("100%").await), ["Ada"]);
    assert_eq!(names(&search("e_c").await), ["snake_case fan"]);
    assert_eq!(names(&search("%").await), ["Ada"]);
}

#[tokio::test]
async fn pages_go_newest_first_with_the_total_and_a_bounded_size() {
    let app = TestContacts::spawn().await;
    let (_, me) = app.user("Ada").await;
    for n in 1..=5 {
        create(&me, json!({ "name": format!("Contact {n}") })).await;
    }
    let page = async |after: Option<&str>| {
        let response = me
            .run(
                "query($a: String) { contacts(first: 2, after: $a) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }",
                json!({ "a": after }),
            )
            .await;
        response.data()["contacts"].clone()
    };
    let first = page(None).await;
    assert_eq!((first["totalCount"].clone(), names(&first)), (json!(5), vec!["Contact 5", "Contact 4"]));
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = page(first["pageInfo"]["endCursor"].as_str()).await;
    assert_eq!(names(&second), ["Contact 3", "Contact 2"]);
    let third = page(second["pageInfo"]["endCursor"].as_str()).await;
    assert_eq!((names(&third), third["pageInfo"]["hasNextPage"].clone()), (vec!["Contact 1"], json!(false)));

    let default = me.run("{ contacts { edges { node { name } } } }", json!({})).await;
    assert_eq!(default.data()["contacts"]["edges"].as_array().unwrap().len(), 5);
    let too_many = me.run("{ contacts(first: 101) { totalCount } }", json!({})).await;
    assert_eq!((too_many.error_code(), too_many.error_field()), ("BAD_USER_INPUT", Some("first")));
}
