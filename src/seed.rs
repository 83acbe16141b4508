//! `jobtracker seed`: realistic demo data written through the services' own
//! code paths (account registration, application and interview stores, with
//! their validation and outbox events): varied companies, positions,
//! locations and salaries, created over the last 18 months and moved through
//! the statuses the way job hunts go.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use jobtracker_applications::model::{ApplicationStatus, NewApplication, RawNewApplication, RawSalary, SalaryPeriod};
use jobtracker_interviews::model::{InterviewType, NewInterview, RawNewInterview};
use jobtracker_kit::events::Outbox;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella Labs",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Wonka Foods",
    "Cyberdyne Systems",
    "Aperture Science",
    "Black Mesa",
    "Tyrell Corporation",
    "Massive Dynamic",
    "Pied Piper",
    "Vandelay Industries",
    "Oscorp",
    "Monsters Inc",
    "Dunder Mifflin",
    "Blue Sun",
    "Weyland-Yutani",
    "Nakatomi Trading",
    "Spacely Sprockets",
    "Virtucon",
    "Bluth Company",
    "Sterling Cooper",
    "Paper Street Soap",
    "InGen",
    "Rekall",
    "Omni Consumer Products",
    "Planet Express",
    "MomCorp",
    "Soylent",
    "Gekko & Co",
    "Prestige Worldwide",
    "Axiom",
    "Northwind Traders",
    "Contoso",
    "Fabrikam",
    "Tailspin Toys",
    "Litware",
];

const POSITIONS: &[&str] = &[
    "Backend Engineer",
    "Senior Backend Engineer (Rust)",
    "Software Engineer",
    "Staff Software Engineer",
    "Frontend Developer",
    "Senior React Developer",
    "Full-stack Engineer",
    "Full Stack Developer (TypeScript)",
    "iOS Engineer",
    "Android Developer",
    "Mobile Developer (Flutter)",
    "DevOps Engineer",
    "Site Reliability Engineer",
    "SRE / Platform Engineer",
    "Cloud Infrastructure Engineer",
    "Data Engineer",
    "Data Analyst",
    "Data Scientist",
    "Machine Learning Engineer",
    "AI Research Engineer",
    "QA Engineer",
    "Test Automation Engineer",
    "Security Engineer",
    "Application Security Engineer",
    "Product Designer",
    "UX/UI Designer",
    "Product Manager",
    "Technical Product Owner",
    "Engineering Manager",
    "Head of Engineering",
    "Embedded Software Engineer",
    "Solutions Architect",
];

const LOCATIONS: &[&str] = &[
    "Remote",
    "Remote (EU)",
    "Fully remote",
    "Work from home",
    "Anywhere",
    "Berlin",
    "Paris",
    "London",
    "Amsterdam",
    "New York, NY",
    "San Francisco, CA",
    "Toronto",
    "Lisbon",
    "Barcelona",
    "Warsaw",
    "Stockholm",
    "Zurich",
    "Dublin",
    "Munich (hybrid)",
    "Austin, TX",
    "Seattle",
    "Copenhagen",
    "Vienna",
    "Madrid",
    "Prague",
];

const TIME_ZONES: &[&str] =
    &["Europe/Berlin", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles", "UTC"];

/// How one application's hunt goes: the statuses after creation, with delays.
fn history(
    rng: &mut StdRng,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (ApplicationStatus, Vec<(ApplicationStatus, DateTime<Utc>)>) {
    let initial = if rng.gen_bool(0.5) { ApplicationStatus::Saved } else { ApplicationStatus::Applied };
    let mut steps = Vec::new();
    let mut at = created;
    let mut step = |rng: &mut StdRng, status, days: (i64, i64)| -> bool {
        at += Duration::hours(rng.gen_range(days.0 * 24..=days.1 * 24));
        if at >= now {
            return false;
        }
        steps.push((status, at));
        true
    };
    let roll: f64 = rng.r#gen();
    if initial == ApplicationStatus::Saved && (roll < 0.25 || !step(rng, ApplicationStatus::Applied, (0, 10))) {
        return (initial, steps); // still saved
    }
    // Applied: rejected, ghosted, or interviewing.
    let outcome: f64 = rng.r#gen();
    if outcome < 0.35 {
        step(rng, ApplicationStatus::Rejected, (3, 30));
    } else if outcome < 0.65 && step(rng, ApplicationStatus::Interview, (4, 21)) {
        if rng.gen_bool(0.2) {
            step(rng, ApplicationStatus::Offer, (7, 28));
        } else if rng.gen_bool(0.6) {
            step(rng, ApplicationStatus::Rejected, (5, 25));
        }
    }
    (initial, steps)
}

fn application(rng: &mut StdRng, status: ApplicationStatus) -> NewApplication {
    let salary = rng.gen_bool(0.7).then(|| {
        let (currency, base) =
            *[("EUR", 55_000), ("USD", 90_000), ("GBP", 50_000), ("CHF", 100_000)].choose(rng).unwrap();
        let min = base + rng.gen_range(0..8) * 5_000;
        RawSalary {
            min: Some(min),
            max: Some(min + rng.gen_range(1..6) * 5_000),
            currency: currency.into(),
            period: SalaryPeriod::Year,
        }
    });
    let company = *COMPANIES.choose(rng).unwrap();
    NewApplication::parse(RawNewApplication {
        company: company.into(),
        position: (*POSITIONS.choose(rng).unwrap()).into(),
        location: Some((*LOCATIONS.choose(rng).unwrap()).into()),
        salary,
        job_description: Some(format!(
            "{company} is hiring. You will own services end to end, work with a small team and ship often."
        )),
        job_url: Some(format!("https://jobs.example.com/{}", Uuid::new_v4().simple())),
        status,
    })
    .expect("seed data is valid")
}

pub struct SeedOptions {
    pub users: usize,
    pub applications: usize,
    pub seed: u64,
}

pub async fn run(options: SeedOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let auth_config = jobtracker_auth::Config::load(&crate::cli::service_env(&jobtracker_auth::SPEC)?)?;
    let (auth, _) = jobtracker_auth::service(&auth_config, Outbox::default()).await?;
    let (applications, _) = jobtracker_applications::store(
        &crate::cli::service_env(&jobtracker_applications::SPEC)?.service,
        Outbox::default(),
    )
    .await?;
    let (interviews, _) = jobtracker_interviews::store(
        &crate::cli::service_env(&jobtracker_interviews::SPEC)?.service,
        Outbox::default(),
    )
    .await?;
    let now = jobtracker_kit::db::now();
    let run = format!("{:x}", now.timestamp());
    let password = "jobtracker-demo";

    let mut totals = (0usize, 0usize, 0usize);
    for user in 0..options.users {
        let email = format!("demo-{run}-{user}@example.com");
        let session =
            auth.register(&email, password, &format!("Demo User {user}")).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let owner = session.user_id;
        if user == 0 {
            println!("sign in as {email} / {password}");
        }
        let counts = futures::stream::iter(0..options.applications)
            .map(|i| {
                let (applications, interviews) = (applications.clone(), interviews.clone());
                let mut rng = StdRng::seed_from_u64(options.seed ^ ((user as u64) << 32) ^ i as u64);
                async move {
                    let created = now - Duration::minutes(rng.gen_range(60..548 * 24 * 60));
                    let (initial, steps) = history(&mut rng, created, now);
                    let new = application(&mut rng, initial);
                    let row = applications
                        .create_at(owner, new.clone(), created)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let mut scheduled = 0;
                    for (status, at) in &steps {
                        applications
                            .change_status_at(owner, row.id, *status, None, *at)
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        if *status == ApplicationStatus::Interview {
                            let interview = NewInterview::parse(RawNewInterview {
                                company: None,
                                position: None,
                                application_id: Some(row.id.to_string()),
                                scheduled_at: *at + Duration::days(rng.gen_range(2..10)),
                                time_zone: (*TIME_ZONES.choose(&mut rng).unwrap()).into(),
                                duration_minutes: Some(*[30, 45, 60, 90].choose(&mut rng).unwrap()),
                                interview_type: *[InterviewType::Phone, InterviewType::Online, InterviewType::Onsite]
                                    .choose(&mut rng)
                                    .unwrap(),
                                details: None,
                            })?;
                            interviews
                                .schedule(owner, interview, new.company.clone(), new.position.clone())
                                .await
                                .map_err(|e| anyhow::anyhow!("{e}"))?;
                            scheduled += 1;
                        }
                    }
                    anyhow::Ok((1 + steps.len(), scheduled))
                }
            })
            .buffer_unordered(8)
            .try_fold((0, 0), |(changes, interviews), (c, i)| async move { Ok((changes + c, interviews + i)) })
            .await?;
        totals = (totals.0 + options.applications, totals.1 + counts.0, totals.2 + counts.1);
    }
    println!(
        "seeded {} users, {} applications ({} status entries), {} interviews in {:.1} s",
        options.users,
        totals.0,
        totals.1,
        totals.2,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
