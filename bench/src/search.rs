//! `search` over 1 000 000 documents: 100 000 private ones of the bench user
//! (applications and contacts), 800 000 of 8 000 other users, 100 000 public
//! profiles. `seed` writes them as the services would (rows plus their
//! outbox events, published) so that `jobtracker search reindex` builds each
//! backend's index from the outboxes and every hit resolves through the
//! router; `measure` times one- and two-word queries through the router,
//! straight to each search subgraph and straight to each backend (the
//! index's own `search`, in this process), and index freshness: mutation
//! acknowledged by the router → found by each search subgraph.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jobtracker_kit::db::DatabaseConfig;
use jobtracker_search::elastic::{ElasticConfig, ElasticIndex};
use jobtracker_search::index::SearchIndex;
use jobtracker_search::model::SearchRequest;
use jobtracker_search::store::PgIndex;
use serde_json::json;
use uuid::Uuid;

use crate::{Login, Sample, graphql, http, login, measure, report};

#[derive(clap::Args)]
pub struct SeedTargets {
    #[command(flatten)]
    pub login: Login,
    #[arg(long)]
    pub applications_database_url: String,
    #[arg(long)]
    pub contacts_database_url: String,
    #[arg(long)]
    pub users_database_url: String,
    /// All documents; the bench user gets a tenth, public profiles a tenth.
    #[arg(long, default_value_t = 1_000_000)]
    pub documents: i32,
}

#[derive(clap::Args)]
pub struct MeasureTargets {
    #[command(flatten)]
    pub login: Login,
    #[arg(long)]
    pub subgraph: String,
    /// The Elasticsearch side, when measured: the server, the search
    /// subgraph on it, and a router in front of that one.
    #[arg(long, requires_all = ["router_es", "subgraph_es"])]
    pub elasticsearch_url: Option<String>,
    #[arg(long)]
    pub router_es: Option<String>,
    #[arg(long)]
    pub subgraph_es: Option<String>,
    /// Base URL and database name of the PostgreSQL index.
    #[arg(long)]
    pub database_base: String,
    #[arg(long)]
    pub search_database: String,
    #[arg(long, default_value_t = 300)]
    pub requests: usize,
    #[arg(long, default_value_t = 100)]
    pub freshness_samples: usize,
}

const OTHER_OWNERS: i32 = 8_000;
const POSITIONS: &str = "ARRAY['Backend Engineer','Frontend Developer','Data Scientist','DevOps Engineer','Product Manager','Rust Developer','Site Reliability Engineer','Machine Learning Engineer','QA Analyst','Mobile Developer','Security Engineer','Engineering Manager']";
const COMPANIES: &str = "ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark Industries','Wayne Enterprises','Cyberdyne','Soylent','Tyrell','Ferrous Systems','Pied Piper']";
const LOCATIONS: &str = "ARRAY['Zürich','Genève','München','Kraków','São Paulo','Montréal','Paris','Berlin','London','Remote','New York','Tokyo']";
const TEXTS: &str = "ARRAY['We build distributed systems in Rust and Go on Kubernetes.','Ship React and TypeScript apps used by millions.','Own our CI pipelines, Terraform and observability.','Analyse product data with Python, SQL and Spark.','Met at the meetup; follow up about the platform team.','Referred by a former colleague, prefers e-mail.','Small team, on-call one week in six, remote friendly.','Interviewed twice, strong on system design.']";
const FIRST: &str = "ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Margaret','Ken','Frances','Linus','Radia','Guido','Anders','Bjarne','Hedy']";
const LAST: &str = "ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Hamilton','Thompson','Allen','Torvalds','Perlman','Rossum','Hejlsberg','Stroustrup','Lamarr','Müller','Åström']";

/// The owner of row `i`: the bench user for the first `heavy`, else one of
/// the other users.
fn owner_sql(column: &str) -> String {
    format!("CASE WHEN {column} <= $2 THEN $1 ELSE md5('owner' || ({column} % {OTHER_OWNERS}))::uuid END")
}

/// The events the rows of `table` (as `alias`) were published in,
/// as their service writes them (marked published): `payload` and the other
/// expressions are SQL over that row; rows that already have one are skipped.
struct Published<'a> {
    table: &'a str,
    alias: &'a str,
    event_type: &'a str,
    payload_version: i32,
    id: &'a str,
    owner: &'a str,
    version: &'a str,
    at: &'a str,
    payload: &'a str,
}

impl Published<'_> {
    async fn write(&self, conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
        let Self { table, alias, event_type, payload_version, id, owner, version, at, payload } = self;
        diesel::sql_query(format!(
            "INSERT INTO outbox (id, event_type, envelope, created_at, published_at, aggregate_id, aggregate_version) \
             SELECT e, '{event_type}', jsonb_build_object('id', e, 'type', '{event_type}', 'version', {payload_version}, \
                    'occurred_at', {at}, 'user_id', {owner}, 'aggregate_id', {id}, 'aggregate_version', {version}, \
                    'payload', {payload}), {at}, now(), {id}, {version} \
             FROM (SELECT gen_random_uuid() AS e, {alias}.* FROM {table} {alias}) AS {alias} \
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.aggregate_id = {id})"
        ))
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Runs a `generate_series` INSERT whose $1 is the bench user, $2 how many
/// of the rows are theirs and $3 how many there are.
async fn insert_series(
    conn: &mut AsyncPgConnection,
    sql: &str,
    owner: Uuid,
    heavy: i32,
    total: i32,
) -> anyhow::Result<()> {
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(owner)
        .bind::<Integer, _>(heavy)
        .bind::<Integer, _>(total)
        .execute(conn)
        .await?;
    Ok(())
}

async fn seed_applications(url: &str, owner: Uuid, heavy: i32, total: i32) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let rows = format!(
        "INSERT INTO applications (id, owner_id, company, position, location, job_description, status, created_at, updated_at, version) \
         SELECT gen_random_uuid(), {owner}, ({COMPANIES})[1 + i % 12] || ' ' || (i % 997), ({POSITIONS})[1 + (i / 12) % 12], \
                ({LOCATIONS})[1 + (i / 144) % 12], ({TEXTS})[1 + i % 4], 'SAVED', now() - (i || ' seconds')::interval, now(), 1 \
         FROM generate_series(1, $3) AS i",
        owner = owner_sql("i")
    );
    insert_series(&mut conn, &rows, owner, heavy, total).await?;
    Published {
        table: "applications",
        alias: "a",
        event_type: "application.created",
        payload_version: 2,
        id: "a.id",
        owner: "a.owner_id",
        version: "a.version",
        at: "a.created_at",
        payload: "jsonb_build_object('applicationId', a.id, 'ownerId', a.owner_id, 'company', a.company, \
                  'position', a.position, 'location', a.location, 'descriptionExcerpt', a.job_description, \
                  'status', a.status, 'createdAt', a.created_at, 'updatedAt', a.updated_at)",
    }
    .write(&mut conn)
    .await?;
    diesel::sql_query("VACUUM ANALYZE applications").execute(&mut conn).await?;
    Ok(())
}

async fn seed_contacts(url: &str, owner: Uuid, heavy: i32, total: i32) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let rows = format!(
        "INSERT INTO contacts (id, owner_id, name, position, company, social_links, notes, created_at, updated_at, version) \
         SELECT gen_random_uuid(), {owner}, ({FIRST})[1 + i % 15] || ' ' || ({LAST})[1 + (i / 15) % 17], \
                ({POSITIONS})[1 + (i / 7) % 12], ({COMPANIES})[1 + i % 12] || ' ' || (i % 997), '[]', \
                ({TEXTS})[5 + i % 4], now() - (i || ' seconds')::interval, now(), 1 \
         FROM generate_series(1, $3) AS i",
        owner = owner_sql("i")
    );
    insert_series(&mut conn, &rows, owner, heavy, total).await?;
    Published {
        table: "contacts",
        alias: "c",
        event_type: "contact.created",
        payload_version: 1,
        id: "c.id",
        owner: "c.owner_id",
        version: "c.version",
        at: "c.created_at",
        payload: "jsonb_build_object('contactId', c.id, 'ownerId', c.owner_id, 'name', c.name, \
                  'position', c.position, 'company', c.company, 'socialLinks', '[]'::jsonb, 'notes', c.notes, \
                  'createdAt', c.created_at, 'updatedAt', c.updated_at)",
    }
    .write(&mut conn)
    .await?;
    diesel::sql_query("VACUUM ANALYZE contacts").execute(&mut conn).await?;
    Ok(())
}

async fn seed_profiles(url: &str, total: i32) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query(format!(
        "INSERT INTO profiles (id, email, full_name, location, headline, skills, created_at, updated_at, version) \
         SELECT gen_random_uuid(), 'profile-' || i || '-' || left(md5(random()::text), 8) || '@bench.example', ({FIRST})[1 + i % 15] || ' ' || ({LAST})[1 + (i / 15) % 17], \
                ({LOCATIONS})[1 + (i / 3) % 12], ({POSITIONS})[1 + i % 12] || ' at ' || ({COMPANIES})[1 + (i / 5) % 12], \
                ARRAY[(ARRAY['Rust','Go','Python','TypeScript','Kubernetes','SQL'])[1 + i % 6], \
                      (ARRAY['PostgreSQL','React','Spark','Terraform','GraphQL'])[1 + i % 5]], now(), now(), 2 \
         FROM generate_series(1, $1) AS i"
    ))
    .bind::<Integer, _>(total)
    .execute(&mut conn)
    .await?;
    Published {
        table: "profiles",
        alias: "p",
        event_type: "user.updated",
        payload_version: 1,
        id: "p.id",
        owner: "p.id",
        version: "p.version",
        at: "p.updated_at",
        payload: "jsonb_build_object('userId', p.id, 'email', p.email, 'fullName', p.full_name, \
                  'location', p.location, 'headline', p.headline, 'skills', to_jsonb(p.skills), 'updatedAt', p.updated_at)",
    }
    .write(&mut conn)
    .await?;
    diesel::sql_query("VACUUM ANALYZE profiles").execute(&mut conn).await?;
    Ok(())
}

pub async fn seed(targets: &SeedTargets) -> anyhow::Result<()> {
    let (_, owner) = login(&http(), &targets.login).await?;
    let tenth = targets.documents / 10;
    // Applications and contacts 6:4, for the bench user and the others alike.
    let (applications, contacts) = (targets.documents * 8 / 10 * 6 / 10, targets.documents * 8 / 10 * 4 / 10);
    let started = Instant::now();
    tokio::try_join!(
        seed_applications(&targets.applications_database_url, owner, tenth * 6 / 10, tenth * 6 / 10 + applications),
        seed_contacts(&targets.contacts_database_url, owner, tenth * 4 / 10, tenth * 4 / 10 + contacts),
        seed_profiles(&targets.users_database_url, tenth),
    )?;
    println!(
        "seeded {} documents ({tenth} the bench user's, {tenth} public profiles) with their outbox events in {:.1} s",
        tenth * 2 + applications + contacts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Through the router, with the owners' fields; straight to the subgraph,
/// which only knows the references.
const QUERY: &str = "query($q: String!) { search(query: $q, first: 20) { score hit { __typename \
    ... on Application { id company position } ... on Contact { id name } ... on User { id fullName } } } }";
const SUBGRAPH_QUERY: &str = "query($q: String!) { search(query: $q, first: 20) { score hit { __typename \
    ... on Application { id } ... on Contact { id } ... on User { id } } } }";

/// Polls `subgraph` until `query` finds `id`; milliseconds since `since`.
async fn found_after(subgraph: &str, token: &str, query: &str, id: &str, since: Instant) -> anyhow::Result<f64> {
    let http = http();
    let deadline = since + Duration::from_secs(30);
    loop {
        let data = graphql(&http, subgraph, token, SUBGRAPH_QUERY, json!({ "q": query })).await?;
        if data["search"].as_array().is_some_and(|hits| hits.iter().any(|r| r["hit"]["id"] == id)) {
            return Ok(since.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::ensure!(Instant::now() < deadline, "{id} not searchable at {subgraph} after 30 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn run(targets: &MeasureTargets) -> anyhow::Result<()> {
    let http = http();
    let (token, owner) = login(&http, &targets.login).await?;
    let pg_config = DatabaseConfig {
        base_url: targets.database_base.clone(),
        name: targets.search_database.clone(),
        pool_size: 4,
        pool_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(30),
    };
    let pool = jobtracker_kit::db::bootstrap(&pg_config, jobtracker_search::MIGRATIONS).await?;
    let postgres: Arc<dyn SearchIndex> = Arc::new(PgIndex::new(pool));
    let mut backends = vec![("PostgreSQL", postgres, &targets.login.router, &targets.subgraph)];
    if let (Some(url), Some(router), Some(subgraph)) =
        (&targets.elasticsearch_url, &targets.router_es, &targets.subgraph_es)
    {
        let elastic: Arc<dyn SearchIndex> = Arc::new(ElasticIndex::new(&ElasticConfig {
            url: url.clone(),
            index: "jobtracker-search".into(),
            timeout: Duration::from_secs(60),
        })?);
        backends.push(("Elasticsearch (osmem)", elastic, router, subgraph));
    }
    let requests = targets.requests;
    let mut groups = Vec::new();
    for (label, text) in [("one word \"engineer\"", "engineer"), ("two words \"backend zur\"", "backend zur")] {
        let request = SearchRequest::parse(owner, text, None, Some(100))?;
        for (backend, index, _, _) in &backends {
            println!("{label}: {} hits on {backend} (first 100)", index.search(&request).await?.len());
        }
        let first20 = SearchRequest { limit: 20, ..request };
        let variables = json!({ "q": text });
        for (backend, index, router, subgraph) in &backends {
            let routed = measure(&format!("{label}, {backend}: router"), requests, || async {
                graphql(&http, router, &token, QUERY, variables.clone()).await.map(drop)
            })
            .await?;
            let direct = measure(&format!("{label}, {backend}: search subgraph"), requests, || async {
                graphql(&http, subgraph, &token, SUBGRAPH_QUERY, variables.clone()).await.map(drop)
            })
            .await?;
            let floor = measure(&format!("{label}, {backend}: the backend itself"), requests, || async {
                index.search(&first20).await.map(drop)
            })
            .await?;
            groups.push(vec![routed, direct, floor]);
        }
    }
    report(&groups);

    // Freshness: one mutation, every search subgraph polled (each consumes its own queue).
    let mut lags: Vec<Vec<f64>> = vec![Vec::new(); backends.len()];
    for n in 0..targets.freshness_samples {
        let word = format!("fresh{}x{n}", Uuid::new_v4().simple().to_string().get(..8).unwrap_or("word"));
        let mutation =
            "mutation($c: String!) { createApplication(input: { company: $c, position: \"Bench\" }) { id } }";
        let data = graphql(&http, &targets.login.router, &token, mutation, json!({ "c": word })).await?;
        let acknowledged = Instant::now();
        let id = data["createApplication"]["id"].as_str().unwrap_or_default().to_string();
        let polls = backends.iter().map(|(_, _, _, subgraph)| found_after(subgraph, &token, &word, &id, acknowledged));
        for (lag, millis) in lags.iter_mut().zip(futures::future::try_join_all(polls).await?) {
            lag.push(millis);
        }
    }
    let samples: Vec<Sample> =
        backends.iter().zip(lags).map(|((name, ..), millis)| Sample { name: name.to_string(), millis }).collect();
    println!("\n| freshness: mutation acknowledged → searchable | p50 ms | p99 ms |");
    println!("|---|---|---|");
    for sample in &samples {
        println!("| {} | {:.1} | {:.1} |", sample.name, sample.percentile(0.5), sample.percentile(0.99));
    }
    Ok(())
}
