//! 10 000 in-app reminders due at once: how fast the notifications senders
//! deliver them, how late the last ones are behind their due time, and
//! whether any was delivered twice; with one replica, then with two (the
//! baseline is the one-replica run of the same bench).

use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Double, Integer, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{Login, http, login};

#[derive(diesel::QueryableByName)]
struct Outcome {
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    notifications: i64,
    #[diesel(sql_type = BigInt)]
    distinct_deliveries: i64,
    #[diesel(sql_type = Double)]
    span_secs: f64,
    #[diesel(sql_type = Double)]
    p50_late_ms: f64,
    #[diesel(sql_type = Double)]
    p99_late_ms: f64,
}

pub async fn due_at_once(login_as: &Login, database_url: &str, count: i32, label: &str) -> anyhow::Result<()> {
    let (_, owner) = login(&http(), login_as).await?;
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let batch = uuid::Uuid::new_v4().simple().to_string();
    // Due two seconds from now, so that every sender finds them due together.
    diesel::sql_query(
        "INSERT INTO deliveries (id, owner_id, kind, channel, minutes_before, due_at, title, body, idempotency_key) \
         SELECT gen_random_uuid(), $1, 'INTERVIEW_REMINDER', 'IN_APP', 60, now() + interval '2 seconds', \
                'Interview with Acme in 1 hour', 'Acme — Backend Engineer', $2 || ':' || i \
         FROM generate_series(1, $3) AS i",
    )
    .bind::<SqlUuid, _>(owner)
    .bind::<diesel::sql_types::Text, _>(&batch)
    .bind::<Integer, _>(count)
    .execute(&mut conn)
    .await?;
    let pattern = format!("{batch}:%");
    let deadline = Instant::now() + Duration::from_secs(300);
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let outcome: Outcome = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE d.state = 'PENDING') AS pending, \
                    count(n.id) AS notifications, count(DISTINCT n.delivery_id) AS distinct_deliveries, \
                    coalesce(extract(epoch FROM max(n.created_at) - min(d.due_at)), 0)::float8 AS span_secs, \
                    coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - d.due_at)) * 1000, 0)::float8 AS p50_late_ms, \
                    coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - d.due_at)) * 1000, 0)::float8 AS p99_late_ms \
             FROM deliveries d LEFT JOIN notifications n ON n.delivery_id = d.id WHERE d.idempotency_key LIKE $1",
        )
        .bind::<diesel::sql_types::Text, _>(&pattern)
        .get_result(&mut conn)
        .await?;
        if outcome.pending == 0 || Instant::now() > deadline {
            break outcome;
        }
    };
    anyhow::ensure!(outcome.pending == 0, "{} reminders still pending after 300 s", outcome.pending);
    anyhow::ensure!(
        outcome.distinct_deliveries == i64::from(count),
        "{} of {count} delivered",
        outcome.distinct_deliveries
    );
    println!(
        "| {count} reminders due at once, {label} | {:.0} sent/s | {} duplicates | lateness p50 {:.0} ms, p99 {:.0} ms |",
        f64::from(count) / outcome.span_secs.max(0.001),
        outcome.notifications - outcome.distinct_deliveries,
        outcome.p50_late_ms,
        outcome.p99_late_ms,
    );
    Ok(())
}
