use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_applications::model::{ApplicationStatus, NewApplication, RawNewApplication};
use jobtracker_testkit::Gql;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApps, create};

const LIST: &str = "query($f: ApplicationFilter, $o: ApplicationOrder, $first: Int, $after: String) { \
    applications(filter: $f, orderBy: $o, first: $first, after: $after) { totalCount edges { cursor node { company position status } } pageInfo { hasNextPage endCursor } } }";

async fn names(client: &Gql, variables: Value) -> (i64, Vec<String>) {
    let response = client.run(LIST, variables).await;
    let list = &response.data()["applications"];
    let names = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} / {}", e["node"]["company"].as_str().unwrap(), e["node"]["position"].as_str().unwrap()))
        .collect();
    (list["totalCount"].as_i64().unwrap(), names)
}

fn new(company: &str, position: &str, status: ApplicationStatus) -> NewApplication {
    NewApplication::parse(RawNewApplication {
        company: company.into(),
        position: position.into(),
        location: None,
        salary: None,
        job_description: None,
        job_url: None,
        status,
    })
    .unwrap()
}

#[tokio::test]
async fn filter_by_status_and_search_company_or_position() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    for (company, position, status) in [
        ("Acme", "Backend Engineer", "APPLIED"),
        ("Engineering Corp", "Designer", "SAVED"),
        ("Globex", "Product Manager", "INTERVIEW"),
        ("Initech", "Frontend ENGINEER", "REJECTED"),
    ] {
        create(&me, json!({ "company": company, "position": position, "status": status })).await;
    }

    let (total, found) = names(&me, json!({ "f": { "search": "engineer" } })).await;
    assert_eq!(total, 3);
    assert_eq!(found, ["Initech / Frontend ENGINEER", "Engineering Corp / Designer", "Acme / Backend Engineer"]);
    let (total, _) = names(&me, json!({ "f": { "search": "engineer", "status": ["APPLIED", "REJECTED"] } })).await;
    assert_eq!(total, 2);
    let (total, found) = names(&me, json!({ "f": { "status": ["INTERVIEW"] } })).await;
    assert_eq!((total, found), (1, vec!["Globex / Product Manager".to_string()]));
    // A term never spans company and position.
    let (total, _) = names(&me, json!({ "f": { "search": "acme backend" } })).await;
    assert_eq!(total, 0);
    let (total, _) = names(&me, json!({ "f": { "search": "%" } })).await;
    assert_eq!(total, 0, "wildcards match literally");
}

#[tokio::test]
async fn a_search_for_percent_or_underscore_matches_them_literally() {
    let app = TestApps::spawn().await;
    let (_, me) = app.user("Ada").await;
    for (company, position) in [
        ("Acme", "Engineer, 100% remote"),
        ("Globex", "Engineer, 1000 remote"),
        ("Initech", "C_Dev"),
        ("Hooli", "CxDev"),
    ] {
        create(&me, json!({ "company": company, "position": position, "status": "SAVED" })).await;
    }

    let (total, found) = names(&me, json!({ "f": { "search": "100%" } })).await;
    assert_eq!((total, found), (1, vec!["Acme / Engineer, 100% remote".to_string()]), "% is not a wildcard");
    let (total, found) = names(&me, json!({ "f": { "search": "c_dev" } })).await;
    assert_eq!((total, found), (1, vec!["Initech / C_Dev".to_string()]), "_ is not a wildcard");
    let (total, _) = names(&me, json!({ "f": { "search": "_" } })).await;
    assert_eq!(total, 1, "_ does not match every character");
    let (total, _) = names(&me, json!({ "f": { "search": "\\" } })).await;
    assert_eq!(total, 0, "a backslash is not an escape");
}

#[tokio::test]
async fn orders_and_pages_are_stable_even_with_identical_times() {
    let app = TestApps::spawn().await;
    let (account, me) = app.user("Ada").await;
    let owner = Uuid::parse_str(&account.user_id).unwrap();
    let store = app.store().await;
    let same_time = Utc::now() - Duration::days(2);
    for i in 0..5 {
        store
            .create_at(owner, new(&format!("Tie {i}"), "Engineer", ApplicationStatus::Saved), same_time)
            .await
            .unwrap();
    }
    let older = store
        .create_at(owner, new("Old", "Engineer", ApplicationStatus::Saved), same_time - Duration::days(1))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let response = me.run(LIST, json!({ "o": "NEWEST", "first": 2, "after": after })).await;
        let list = &response.data()["applications"];
        assert_eq!(list["totalCount"], 6);
        seen.extend(
            list["edges"].as_array().unwrap().iter().map(|e| e["node"]["company"].as_str().unwrap().to_string()),
        );
        if !list["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = list["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 6, "no duplicates, no gaps: {seen:?}");
    assert_eq!(seen.last().unwrap(), "Old");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);

    let (_, oldest) = names(&me, json!({ "o": "OLDEST", "first": 1 })).await;
    assert_eq!(oldest, ["Old / Engineer"]);
    me.run(
        "mutation($id: ID!) { updateApplication(id: $id, input: { location: \"Remote\" }) { id } }",
        json!({ "id": older.id }),
    )
    .await
    .data();
    let (_, updated) = names(&me, json!({ "o": "RECENTLY_UPDATED", "first": 1 })).await;
    assert_eq!(updated, ["Old / Engineer"]);

    // A cursor only makes sense in its own order.
    let newest = me.run(LIST, json!({ "o": "NEWEST", "first": 1 })).await;
    let cursor = newest.data()["applications"]["pageInfo"]["endCursor"].clone();
    let mixed = me.run(LIST, json!({ "o": "OLDEST", "after": cursor })).await;
    assert_eq!(mixed.error_field(), Some("after"));
}

#[derive(diesel::QueryableByName)]
struct Plan {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test]
async fn search_uses_the_trigram_index() {
    let app = TestApps::spawn().await;
    let url = app.env.database(jobtracker_applications::SERVICE).url();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    // 20 000 rows for one owner and 20 000 for others, then fresh statistics.
    let owner = Uuid::now_v7();
    for (who, n) in [(owner.to_string(), 20_000), (Uuid::now_v7().to_string(), 20_000)] {
        diesel::sql_query(format!(
            "INSERT INTO applications (id, owner_id, company, position, status, created_at, updated_at) \
             SELECT gen_random_uuid(), '{who}', 'Company ' || i, (ARRAY['Backend Engineer','Designer','Data Analyst','Product Manager'])[1 + i % 4], 'SAVED', now() - i * interval '1 minute', now() \
             FROM generate_series(1, {n}) AS i"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    diesel::sql_query("VACUUM ANALYZE applications").execute(&mut conn).await.unwrap();

    let plan: Vec<Plan> = diesel::sql_query(format!(
        "EXPLAIN SELECT count(*) FROM applications WHERE owner_id = '{owner}' AND search_text LIKE '%xyzzy%'"
    ))
    .load(&mut conn)
    .await
    .unwrap();
    let plan = plan.into_iter().map(|p| p.line).collect::<Vec<_>>().join("\n");
    assert!(plan.contains("applications_owner_search"), "expected the trigram index:\n{plan}");
}
