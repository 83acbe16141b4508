//! The chaos runs' load: users each creating, changing and deleting
//! applications and interviews at a busy person's pace, through the router,
//! each keeping a ledger of what was acknowledged. A mutation that failed
//! (an error, or no answer) may still have committed: the ledger marks what
//! it touched as uncertain instead of guessing.
//!
//! Interviews are of two kinds, so that reminders are exact: "kept" ones
//! (company `K…`, unlinked, never changed) an hour and some seconds ahead,
//! whose hour reminder falls due during the run; "far" ones (three hours
//! ahead, linked to an application) that are changed, cancelled, deleted,
//! and removed with their application, and never due during the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use jobtracker_testkit::{Account, Gql};
use serde_json::{Value, json};

const STATUSES: [&str; 4] = ["APPLIED", "INTERVIEW", "OFFER", "REJECTED"];
const LOCATIONS: [&str; 4] = ["Remote", "Berlin", "Paris", "London"];
/// Kept interviews per user: each costs two deliveries (in the app, e-mail).
const KEPT_PER_USER: usize = 3;

/// What one user's acknowledged mutations say must be true afterwards;
/// `None` where a failed mutation leaves either outcome possible.
#[derive(Default, Debug)]
pub struct Ledger {
    pub applications: HashMap<String, Application>,
    pub interviews: HashMap<String, Interview>,
    pub acknowledged: usize,
    /// Failed mutations by what the client saw (an error code, or `unreachable`).
    pub failed: HashMap<String, usize>,
}

#[derive(Debug)]
pub struct Application {
    pub status: Option<String>,
    pub deleted: Option<bool>,
}

#[derive(Debug)]
pub struct Interview {
    pub application: Option<String>,
    pub kept: bool,
    pub cancelled: Option<bool>,
    pub deleted: Option<bool>,
}

impl Ledger {
    fn live_applications(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.applications.iter().filter(|(_, a)| a.deleted == Some(false)).map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    }

    fn far_interviews(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .interviews
            .iter()
            .filter(|(_, i)| !i.kept && i.deleted == Some(false) && i.cancelled == Some(false))
            .filter(|(_, i)| self.exists(i.application.as_deref()))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Whether the application (if any) is known to still exist.
    fn exists(&self, application: Option<&str>) -> bool {
        application.is_none_or(|id| self.applications.get(id).is_some_and(|a| a.deleted == Some(false)))
    }

    /// Whether an interview must be gone: deleted, or its application was.
    pub fn interview_gone(&self, interview: &Interview) -> Option<bool> {
        let application_gone = match &interview.application {
            None => Some(false),
            Some(id) => self.applications.get(id).and_then(|a| a.deleted),
        };
        match (interview.deleted, application_gone) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }
    }
}

pub struct User {
    pub account: Account,
    pub gql: Gql,
}

/// A deterministic sequence per user (xorshift), so that a failing run can
/// be replayed in kind.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// Runs `user`'s load, one mutation every `pace`, until `stop`; kept
/// interviews only while `keep_until` has not passed (so their reminders
/// fall due before the run ends).
pub async fn drive(
    index: usize,
    user: Arc<User>,
    pace: Duration,
    keep_until: Instant,
    stop: Arc<AtomicBool>,
) -> Ledger {
    let mut ledger = Ledger::default();
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut step = 0usize;
    while !stop.load(Ordering::Relaxed) {
        step += 1;
        let live = ledger.live_applications();
        let far = ledger.far_interviews();
        let kept = ledger.interviews.values().filter(|i| i.kept).count();
        match dice.roll(10) {
            3 | 4 if !live.is_empty() => {
                let id = live[dice.roll(live.len())].clone();
                let current = ledger.applications[&id].status.clone();
                let status = STATUSES[dice.roll(STATUSES.len())];
                if current.as_deref().is_none_or(|current| current == status) {
                    continue;
                }
                let ok = mutate(&user.gql, "mutation($id: ID!, $s: ApplicationStatus!) { changeApplicationStatus(id: $id, status: $s) { id } }", json!({ "id": id, "s": status }), &mut ledger).await;
                ledger.applications.get_mut(&id).unwrap().status = ok.map(|_| status.to_string());
            }
            5 if !live.is_empty() => {
                let id = live[dice.roll(live.len())].clone();
                let location = LOCATIONS[dice.roll(LOCATIONS.len())];
                mutate(
                    &user.gql,
                    "mutation($id: ID!, $i: UpdateApplicationInput!) { updateApplication(id: $id, input: $i) { id } }",
                    json!({ "id": id, "i": { "location": location } }),
                    &mut ledger,
                )
                .await;
            }
            6 if kept < KEPT_PER_USER && Instant::now() < keep_until => {
                let at =
                    Utc::now() + chrono::Duration::minutes(60) + chrono::Duration::seconds(10 + dice.roll(15) as i64);
                let input = json!({ "company": format!("K{index}-{step}"), "position": "Engineer", "scheduledAt": at.to_rfc3339(), "timeZone": "Europe/Paris", "type": "ONLINE" });
                if let Some(data) = mutate(&user.gql, SCHEDULE, json!({ "i": input }), &mut ledger).await {
                    let id = data["scheduleInterview"]["id"].as_str().unwrap().to_string();
                    ledger.interviews.insert(
                        id,
                        Interview { application: None, kept: true, cancelled: Some(false), deleted: Some(false) },
                    );
                }
            }
            7 if !live.is_empty() => {
                let application = live[dice.roll(live.len())].clone();
                let at = Utc::now() + chrono::Duration::hours(3);
                let input = json!({ "applicationId": application, "scheduledAt": at.to_rfc3339(), "timeZone": "Europe/Paris", "type": "PHONE" });
                if let Some(data) = mutate(&user.gql, SCHEDULE, json!({ "i": input }), &mut ledger).await {
                    let id = data["scheduleInterview"]["id"].as_str().unwrap().to_string();
                    let interview = Interview {
                        application: Some(application),
                        kept: false,
                        cancelled: Some(false),
                        deleted: Some(false),
                    };
                    ledger.interviews.insert(id, interview);
                }
            }
            8 if !far.is_empty() => {
                let id = far[dice.roll(far.len())].clone();
                if dice.roll(2) == 0 {
                    let ok = mutate(
                        &user.gql,
                        "mutation($id: ID!) { cancelInterview(id: $id) { id } }",
                        json!({ "id": id }),
                        &mut ledger,
                    )
                    .await;
                    let interview = ledger.interviews.get_mut(&id).unwrap();
                    interview.cancelled = ok.map(|_| true);
                } else {
                    mutate(
                        &user.gql,
                        "mutation($id: ID!, $i: UpdateInterviewInput!) { updateInterview(id: $id, input: $i) { id } }",
                        json!({ "id": id, "i": { "details": format!("step {step}") } }),
                        &mut ledger,
                    )
                    .await;
                }
            }
            9 if !far.is_empty() && dice.roll(2) == 0 => {
                let id = far[dice.roll(far.len())].clone();
                let ok = mutate(
                    &user.gql,
                    "mutation($id: ID!) { deleteInterview(id: $id) }",
                    json!({ "id": id }),
                    &mut ledger,
                )
                .await;
                ledger.interviews.get_mut(&id).unwrap().deleted = ok.map(|_| true);
            }
            9 if !live.is_empty() => {
                let id = live[dice.roll(live.len())].clone();
                let ok = mutate(
                    &user.gql,
                    "mutation($id: ID!) { deleteApplication(id: $id) }",
                    json!({ "id": id }),
                    &mut ledger,
                )
                .await;
                ledger.applications.get_mut(&id).unwrap().deleted = ok.map(|_| true);
            }
            _ => {
                let input = json!({ "company": format!("A{index}-{step}"), "position": "Backend Engineer", "location": LOCATIONS[dice.roll(LOCATIONS.len())] });
                if let Some(data) = mutate(
                    &user.gql,
                    "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { id } }",
                    json!({ "i": input }),
                    &mut ledger,
                )
                .await
                {
                    let id = data["createApplication"]["id"].as_str().unwrap().to_string();
                    ledger.applications.insert(id, Application { status: Some("SAVED".into()), deleted: Some(false) });
                }
            }
        }
        tokio::time::sleep(pace).await;
    }
    ledger
}

const SCHEDULE: &str = "mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { id } }";

/// The data of an acknowledged mutation, or `None` (counted as failed).
async fn mutate(gql: &Gql, query: &str, variables: Value, ledger: &mut Ledger) -> Option<Value> {
    match gql.try_run(query, variables).await {
        Ok(response) if response.errors().is_empty() && response.status == 200 => {
            ledger.acknowledged += 1;
            Some(response.body["data"].clone())
        }
        Ok(response) => {
            let code = response.errors().first().and_then(|e| e["extensions"]["code"].as_str()).unwrap_or("none");
            *ledger.failed.entry(format!("{code} ({})", response.status)).or_default() += 1;
            None
        }
        Err(_) => {
            *ledger.failed.entry("unreachable".into()).or_default() += 1;
            None
        }
    }
}
