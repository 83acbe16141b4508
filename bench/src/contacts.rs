//! `contacts(search:)` for a user with many contacts: through the router,
//! straight to the contacts subgraph, and the same SQL on PostgreSQL (the
//! page, the count and the link lookup the store issues). The contacts are
//! bulk-inserted by SQL: what is measured is the search, not how the rows
//! got there.

use std::time::Instant;

use diesel::sql_types::{Integer, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::{ListTarget, Sample, Total, graphql, http, login, measure, report};

#[derive(diesel::QueryableByName)]
#[allow(dead_code)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    email: Option<String>,
}

/// `count` contacts for `owner`: names, companies and positions from small
/// vocabularies combined, one in twelve positions an engineer's, spread over
/// three years.
async fn seed(conn: &mut AsyncPgConnection, owner: Uuid, count: i32) -> anyhow::Result<()> {
    diesel::sql_query(
        "INSERT INTO contacts (id, owner_id, name, position, company, email, social_links, created_at, updated_at, version) \
         SELECT gen_random_uuid(), $1, \
           (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Margaret','Ken','Frances','Linus'])[1 + i % 10] || ' ' || \
           (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Hamilton','Thompson','Allen','Torvalds','Ritchie'])[1 + i % 11] || ' ' || i, \
           (ARRAY['Recruiter','Engineering Manager','Backend Engineer','Talent Partner','CTO','Designer','Product Manager','Data Scientist','Founder','HR Business Partner','Staff Engineer','Sales'])[1 + i % 12], \
           (ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark Industries','Wayne Enterprises','Cyberdyne','Soylent','Tyrell'])[1 + i % 10] || ' ' || (i % 97), \
           'contact' || i || '@example.com', '[]', \
           now() - (i || ' minutes')::interval, now(), 1 \
         FROM generate_series(1, $2) AS i",
    )
    .bind::<SqlUuid, _>(owner)
    .bind::<Integer, _>(count)
    .execute(conn)
    .await?;
    diesel::sql_query("VACUUM ANALYZE contacts").execute(conn).await?;
    Ok(())
}

/// What the contacts store runs for one page: the page, the count, and the
/// replica lookup that links e-mails to users.
async fn floor(conn: &mut AsyncPgConnection, owner: Uuid, pattern: &str) -> anyhow::Result<()> {
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id, email FROM contacts WHERE owner_id = $1 AND search_text LIKE $2 ESCAPE '\\' \
         ORDER BY created_at DESC, id DESC LIMIT 21",
    )
    .bind::<SqlUuid, _>(owner)
    .bind::<Text, _>(pattern)
    .load(conn)
    .await?;
    let total: Total = diesel::sql_query(
        "SELECT count(*) AS total FROM contacts WHERE owner_id = $1 AND search_text LIKE $2 ESCAPE '\\'",
    )
    .bind::<SqlUuid, _>(owner)
    .bind::<Text, _>(pattern)
    .get_result(conn)
    .await?;
    let emails: Vec<String> = rows.iter().filter_map(|r| r.email.clone()).collect();
    let known: Total = diesel::sql_query("SELECT count(*) AS total FROM known_users WHERE email = ANY($1)")
        .bind::<diesel::sql_types::Array<Text>, _>(emails)
        .get_result(conn)
        .await?;
    anyhow::ensure!(!rows.is_empty() && total.total > 0 && known.total >= 0, "no matching contacts");
    Ok(())
}

pub async fn search(target: &ListTarget, contacts: i32) -> anyhow::Result<()> {
    let ListTarget { login: login_as, subgraph, database_url, requests } = target;
    let requests = *requests;
    let http = http();
    let (token, owner) = login(&http, login_as).await?;
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let started = Instant::now();
    seed(&mut conn, owner, contacts).await?;
    println!("inserted {contacts} contacts for {owner} in {:.1} s", started.elapsed().as_secs_f64());

    let mut groups = Vec::new();
    for (label, term, pattern) in
        [("search \"engineer\"", "engineer", "%engineer%"), ("search \"hopper 4\"", "hopper 4", "%hopper 4%")]
    {
        let query = format!(
            "{{ contacts(search: \"{term}\", first: 20) {{ totalCount edges {{ cursor node {{ id name company position user {{ id }} }} }} }} }}"
        );
        let answer = graphql(&http, &login_as.router, &token, &query, json!({})).await?;
        println!("{label}: {} of {contacts} contacts match", answer["contacts"]["totalCount"]);
        let routed = measure(&format!("contacts({label}), first 20: router"), requests, || async {
            graphql(&http, &login_as.router, &token, &query, json!({})).await.map(drop)
        })
        .await?;
        let direct = measure(&format!("contacts({label}), first 20: subgraph"), requests, || async {
            graphql(&http, subgraph, &token, &query, json!({})).await.map(drop)
        })
        .await?;
        let mut sql = Vec::new();
        for round in 0..requests + requests / 10 + 5 {
            let started = Instant::now();
            floor(&mut conn, owner, pattern).await?;
            if round >= requests / 10 + 5 {
                sql.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        groups.push(vec![routed, direct, Sample { name: format!("{label}: same SQL"), millis: sql }]);
    }
    report(&groups);
    Ok(())
}
