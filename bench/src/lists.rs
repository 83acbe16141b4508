//! Query latency against SQL floors and baselines.

use std::time::Instant;

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::{ListTarget, Login, Sample, Total, graphql, http, login, measure, report};

#[derive(diesel::QueryableByName)]
#[allow(dead_code)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    company: String,
}

#[derive(diesel::QueryableByName)]
#[allow(dead_code)]
struct Group {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

async fn connect(database_url: &str) -> anyhow::Result<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    // Fresh statistics and visibility map, as autovacuum keeps them after a
    // bulk load; measuring before it has run would time the wrong plans.
    diesel::sql_query("VACUUM ANALYZE applications").execute(&mut conn).await?;
    diesel::sql_query("VACUUM ANALYZE status_changes").execute(&mut conn).await?;
    Ok(conn)
}

async fn count(conn: &mut AsyncPgConnection, owner: Uuid) -> anyhow::Result<i64> {
    let total: Total = diesel::sql_query("SELECT count(*) AS total FROM applications WHERE owner_id = $1")
        .bind::<SqlUuid, _>(owner)
        .get_result(conn)
        .await?;
    Ok(total.total)
}

/// The page and the count the applications store issues, as plain SQL.
async fn list_floor(conn: &mut AsyncPgConnection, owner: Uuid, condition: &str, value: &str) -> anyhow::Result<()> {
    let page = format!(
        "SELECT id, company FROM applications WHERE owner_id = $1 AND {condition} ORDER BY created_at DESC, id DESC LIMIT 21"
    );
    let count = format!("SELECT count(*) AS total FROM applications WHERE owner_id = $1 AND {condition}");
    let rows: Vec<Row> = diesel::sql_query(page).bind::<SqlUuid, _>(owner).bind::<Text, _>(value).load(conn).await?;
    let total: Total =
        diesel::sql_query(count).bind::<SqlUuid, _>(owner).bind::<Text, _>(value).get_result(conn).await?;
    anyhow::ensure!(!rows.is_empty() && total.total > 0, "the seeded user has no matching rows");
    Ok(())
}

pub async fn applications(target: &ListTarget) -> anyhow::Result<()> {
    let ListTarget { login: login_as, subgraph, database_url, requests } = target;
    let (subgraph, requests) = (subgraph.as_str(), *requests);
    let http = http();
    let (token, owner) = login(&http, login_as).await?;
    let mut conn = connect(database_url).await?;
    let search = "{ applications(filter: { search: \"engineer\" }, first: 20) { totalCount edges { cursor node { id company position status } } } }";
    let status = "{ applications(filter: { status: [APPLIED] }) { totalCount edges { cursor node { id company position status } } } }";
    let matches =
        graphql(&http, &login_as.router, &token, search, json!({})).await?["applications"]["totalCount"].clone();
    println!("user {owner}: {} applications; \"engineer\" matches {matches}", count(&mut conn, owner).await?);

    let mut groups = Vec::new();
    for (label, query, condition, value) in [
        ("search \"engineer\", first 20", search, "search_text LIKE $2", "%engineer%"),
        ("status [APPLIED], first 20", status, "status = $2", "APPLIED"),
    ] {
        let routed = measure(&format!("{label}: router"), requests, || async {
            graphql(&http, &login_as.router, &token, query, json!({})).await.map(drop)
        })
        .await?;
        let direct = measure(&format!("{label}: subgraph"), requests, || async {
            graphql(&http, subgraph, &token, query, json!({})).await.map(drop)
        })
        .await?;
        let mut floor = Vec::new();
        for round in 0..requests + requests / 10 + 5 {
            let started = Instant::now();
            list_floor(&mut conn, owner, condition, value).await?;
            if round >= requests / 10 + 5 {
                floor.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        groups.push(vec![routed, direct, Sample { name: format!("{label}: SQL floor"), millis: floor }]);
    }
    report(&groups);
    Ok(())
}

const AGGREGATES: &[&str] = &[
    "SELECT status AS key, count(*) AS total FROM applications WHERE owner_id = $1 GROUP BY status",
    "SELECT to_char(date_trunc('month', coalesce(applied_at, created_at)), 'YYYY-MM') AS key, count(*) AS total FROM applications WHERE owner_id = $1 GROUP BY 1",
    "SELECT position AS key, count(*) AS total FROM applications WHERE owner_id = $1 GROUP BY position",
    "SELECT lower(coalesce(location, '')) AS key, count(*) AS total FROM applications WHERE owner_id = $1 GROUP BY 1",
    "SELECT s.to_status AS key, count(DISTINCT s.application_id) AS total FROM status_changes s JOIN applications a ON a.id = s.application_id \
     WHERE a.owner_id = $1 AND s.to_status IN ('APPLIED', 'INTERVIEW', 'OFFER') GROUP BY s.to_status",
];

/// The analytics numbers aggregated by SQL over the raw rows: totals by
/// status, month, position, location, and the funnel from the history.
async fn aggregate(conn: &mut AsyncPgConnection, owner: Uuid) -> anyhow::Result<()> {
    for query in AGGREGATES {
        let groups: Vec<Group> = diesel::sql_query(*query).bind::<SqlUuid, _>(owner).load(conn).await?;
        anyhow::ensure!(!groups.is_empty(), "no rows for {query}");
    }
    Ok(())
}

pub async fn analytics(login_as: &Login, database_url: &str, requests: usize) -> anyhow::Result<()> {
    let http = http();
    let (token, owner) = login(&http, login_as).await?;
    let mut conn = connect(database_url).await?;
    let query = "{ analytics { totalApplications applicationsPerMonth { month count } statusBreakdown { status count } \
        positionDistribution { label count } locationDistribution { label count } funnel { applied interview offer } \
        responseRate medianDaysToFirstResponse medianDaysInStage { status medianDays } } }";
    let numbers = graphql(&http, &login_as.router, &token, query, json!({})).await?;
    println!(
        "user {owner}: {} applications in the read model ({} raw rows)",
        numbers["analytics"]["totalApplications"],
        count(&mut conn, owner).await?
    );
    let routed = measure("analytics query (read models): router", requests, || async {
        graphql(&http, &login_as.router, &token, query, json!({})).await.map(drop)
    })
    .await?;
    let mut baseline = Vec::new();
    for round in 0..requests + requests / 10 + 5 {
        let started = Instant::now();
        aggregate(&mut conn, owner).await?;
        if round >= requests / 10 + 5 {
            baseline.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    report(&[vec![routed, Sample { name: "SQL aggregation over the raw rows".into(), millis: baseline }]]);
    Ok(())
}
