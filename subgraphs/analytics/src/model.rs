//! What one application adds to its owner's numbers (its contribution),
//! computed from the latest snapshot alone — so events can arrive twice or
//! out of order and the numbers still come out right — and how the numbers
//! are read back (months with zeros, medians from day histograms). The
//! history-based numbers come from the snapshot's status digest, so a
//! contribution's size, like the event's, does not grow with the number of
//! status changes.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use jobtracker_kit::AppError;
use jobtracker_kit::events::contracts::{ApplicationSnapshot, ApplicationStatus, whole_days};
use serde::{Deserialize, Serialize};

use crate::classify::position_category;

/// Stages of the funnel, in order.
pub const FUNNEL: [ApplicationStatus; 3] =
    [ApplicationStatus::Applied, ApplicationStatus::Interview, ApplicationStatus::Offer];

/// A counter a contribution adds one to. A counter is identified by metric
/// and key; the label is what users see (for a location, the place as typed)
/// and the counter shows the smallest label it was given, so the choice does
/// not depend on the order events arrive in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CounterKey {
    pub metric: String,
    pub key: String,
    pub label: String,
}

impl CounterKey {
    fn identity(&self) -> (&str, &str) {
        (&self.metric, &self.key)
    }
}

impl PartialEq for CounterKey {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for CounterKey {}

impl PartialOrd for CounterKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CounterKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl std::hash::Hash for CounterKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

fn counter(metric: &str, key: impl Into<String>, label: impl Into<String>) -> CounterKey {
    CounterKey { metric: metric.into(), key: key.into(), label: label.into() }
}

/// A counter and how much one application adds to it. Stored contributions
/// from before counts existed list a counter once per unit (count 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    #[serde(flatten)]
    pub counter: CounterKey,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: i64,
}

fn one() -> i64 {
    1
}

fn is_one(count: &i64) -> bool {
    *count == 1
}

/// The counter every interview that is not cancelled adds one to.
pub fn interview_counter() -> CounterKey {
    counter(metric::INTERVIEWS, "", "")
}

pub mod metric {
    pub const TOTAL: &str = "total";
    pub const MONTH: &str = "month";
    pub const STATUS: &str = "status";
    pub const CATEGORY: &str = "category";
    pub const LOCATION: &str = "location";
    pub const REACHED: &str = "reached";
    pub const RESPONDED: &str = "responded";
    pub const FIRST_RESPONSE_DAYS: &str = "first_response_days";
    pub const STAGE_DAYS: &str = "stage_days";
    pub const INTERVIEWS: &str = "interviews";
}

/// Location bucket: any remote wording is "Remote"; otherwise the place as
/// typed, trimmed, grouped case-insensitively. Returns (key, label).
pub fn location_bucket(location: Option<&str>) -> (String, String) {
    let Some(place) = location.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty())
    else {
        return ("".into(), "Unspecified".into());
    };
    let lowered = place.to_lowercase();
    let words: Vec<&str> = lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let remote =
        words.iter().any(|w| matches!(*w, "remote" | "anywhere" | "wfh" | "telecommute" | "telework" | "distributed"))
            || lowered.contains("work from home")
            || lowered.contains("home office")
            || lowered.contains("home-based");
    if remote { ("remote".into(), "Remote".into()) } else { (lowered, place) }
}

/// The month an application counts in: when it was applied, else created.
pub fn month_of(snapshot: &ApplicationSnapshot) -> NaiveDate {
    first_of_month(snapshot.applied_at.unwrap_or(snapshot.created_at).date_naive())
}

/// The first day of the date's month (the day is all that changes, so it
/// always exists).
fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn stage_rank(status: ApplicationStatus) -> Option<usize> {
    FUNNEL.iter().position(|s| *s == status)
}

/// Everything one application adds to its owner's counters, each counter once.
pub fn contribution(snapshot: &ApplicationSnapshot) -> Vec<Counted> {
    let (location_key, location_label) = location_bucket(snapshot.location.as_deref());
    let category = position_category(&snapshot.position);
    let mut counters = vec![
        counter(metric::TOTAL, "", ""),
        counter(metric::MONTH, month_of(snapshot).format("%Y-%m").to_string(), ""),
        counter(metric::STATUS, snapshot.status.as_str(), ""),
        counter(metric::CATEGORY, category, category),
        counter(metric::LOCATION, location_key, location_label),
    ];
    let digest = snapshot.digest();
    // Furthest funnel stage ever reached (an application created as INTERVIEW was applied).
    let furthest = digest.reached.iter().filter_map(|s| stage_rank(*s)).max();
    if let Some(furthest) = furthest {
        counters.extend(FUNNEL[..=furthest].iter().map(|stage| counter(metric::REACHED, stage.as_str(), "")));
    }
    // First response: the first change after the first APPLIED to anything further, or REJECTED.
    if let (Some(applied_at), Some(response_at)) = (digest.first_applied_at, digest.first_response_at) {
        counters.push(counter(metric::RESPONDED, "", ""));
        counters.push(counter(metric::FIRST_RESPONSE_DAYS, whole_days(applied_at, response_at).to_string(), ""));
    }
    let mut counted: Vec<Counted> = counters.into_iter().map(|counter| Counted { counter, count: 1 }).collect();
    // Completed stays in each stage (the current one is still running).
    for (status, days) in &digest.stay_days {
        for (days, count) in days {
            counted
                .push(Counted { counter: counter(metric::STAGE_DAYS, format!("{status}:{days}"), ""), count: *count });
        }
    }
    counted.sort_by(|a, b| a.counter.cmp(&b.counter));
    counted
}

/// Net change of the counters when a contribution is replaced (labels from
/// the new contribution).
pub fn delta(old: &[Counted], new: &[Counted]) -> BTreeMap<CounterKey, i64> {
    let mut net = BTreeMap::new();
    for c in new {
        *net.entry(c.counter.clone()).or_insert(0) += c.count;
    }
    for c in old {
        *net.entry(c.counter.clone()).or_insert(0) -= c.count;
    }
    net.retain(|_, n| *n != 0);
    net
}

/// The median of a histogram of whole days (`days → count`), interpolating
/// between the two middle samples when the count is even.
pub fn median_days(histogram: &BTreeMap<i64, i64>) -> Option<f64> {
    let total: i64 = histogram.values().sum();
    if total <= 0 {
        return None;
    }
    // The day of the n-th sample (0-based), in day order.
    let nth = |n: i64| -> Option<i64> {
        let mut seen = 0;
        histogram.iter().find_map(|(days, count)| {
            seen += count;
            (seen > n).then_some(*days)
        })
    };
    Some(if total % 2 == 1 { nth(total / 2)? as f64 } else { (nth(total / 2 - 1)? + nth(total / 2)?) as f64 / 2.0 })
}

/// The earliest and latest years a month range may touch: a job hunt
/// happens within them, and the bound keeps the work per request small
/// (chrono alone accepts years -262143 to 262142).
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 2100;
/// The longest range `applicationsPerMonth` answers (20 years).
pub const MAX_MONTHS: i64 = 240;

/// A validated range of whole months, first and last inclusive. Checked
/// before a single month is listed: the cost of answering is bounded by
/// `MAX_MONTHS` whatever dates were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonthRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl MonthRange {
    /// `to` defaults to `today`, `from` to 11 months before `to`'s month.
    pub fn parse(from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> Result<Self, AppError> {
        for (date, field) in [(from, "from"), (to, "to")] {
            if let Some(date) = date
                && !(MIN_YEAR..=MAX_YEAR).contains(&date.year())
            {
                return Err(AppError::bad_input(field, format!("{field} must be between {MIN_YEAR} and {MAX_YEAR}")));
            }
        }
        let last = first_of_month(to.unwrap_or(today));
        let first = match from {
            Some(from) => first_of_month(from),
            None => last.checked_sub_months(Months::new(11)).unwrap_or(last),
        };
        if from.is_some_and(|from| from > to.unwrap_or(today)) {
            return Err(AppError::bad_input("from", "from must not be after to"));
        }
        let span = (i64::from(last.year()) - i64::from(first.year())) * 12 + i64::from(last.month())
            - i64::from(first.month())
            + 1;
        if span > MAX_MONTHS {
            return Err(AppError::bad_input("to", format!("at most {MAX_MONTHS} months")));
        }
        Ok(Self { first, last })
    }

    /// Every month of the range, as first days.
    pub fn months(&self) -> Vec<NaiveDate> {
        months(self.first, self.last)
    }
}

/// Every month from `from` to `to`, inclusive, as first days. Ends at the
/// last representable month rather than panicking past it.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let (mut month, last) = (first_of_month(from), first_of_month(to));
    let mut all = Vec::new();
    while month <= last {
        all.push(month);
        match month.checked_add_months(Months::new(1)) {
            Some(next) => month = next,
            None => break,
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use jobtracker_kit::events::contracts::StatusChangeSnapshot;
    use uuid::Uuid;

    use super::*;
    use ApplicationStatus::*;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(day)
    }

    fn snapshot(history: &[(ApplicationStatus, i64)]) -> ApplicationSnapshot {
        let status_history: Vec<StatusChangeSnapshot> = history
            .iter()
            .enumerate()
            .map(|(i, (to, day))| StatusChangeSnapshot {
                from: (i > 0).then(|| history[i - 1].0),
                to: *to,
                at: at(*day),
                note: None,
            })
            .collect();
        ApplicationSnapshot {
            application_id: Uuid::now_v7(),
            owner_id: Uuid::now_v7(),
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            location: Some(" Berlin ".into()),
            salary: None,
            job_url: None,
            description_excerpt: None,
            status: history.last().unwrap().0,
            applied_at: status_history.iter().find(|h| h.to == Applied).map(|h| h.at),
            created_at: at(history[0].1),
            updated_at: at(history.last().unwrap().1),
            status_history,
            status_digest: None,
        }
    }

    fn has(counters: &[Counted], metric: &str, key: &str) -> bool {
        counters.iter().any(|c| c.counter.metric == metric && c.counter.key == key)
    }

    #[test]
    fn remote_wordings_share_a_bucket_and_cities_group_case_insensitively() {
        for remote in
            ["Remote", "remote (EU)", "Fully Remote", "Anywhere", "WFH", "Work from home", "Remote-first, Berlin"]
        {
            assert_eq!(location_bucket(Some(remote)).1, "Remote", "{remote}");
        }
        assert_eq!(location_bucket(Some("  Berlin ")), ("berlin".into(), "Berlin".into()));
        assert_eq!(location_bucket(Some("BERLIN")).0, "berlin");
        assert_eq!(location_bucket(Some("New  York, NY")).1, "New York, NY");
        assert_eq!(location_bucket(Some("Hybrid - Munich")).1, "Hybrid - Munich");
        assert_eq!(location_bucket(None).1, "Unspecified");
        assert_eq!(location_bucket(Some("   ")).1, "Unspecified");
    }

    #[test]
    fn month_is_by_applied_at_falling_back_to_created_at() {
        let applied = snapshot(&[(Saved, 0), (Applied, 40)]);
        assert_eq!(month_of(&applied), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        let saved = snapshot(&[(Saved, 3)]);
        assert_eq!(month_of(&saved), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    }

    #[test]
    fn funnel_and_response_come_from_the_history_not_the_current_status() {
        // Interviewed then rejected: reached APPLIED and INTERVIEW; responded after 5 days.
        let c = contribution(&snapshot(&[(Saved, 0), (Applied, 1), (Interview, 6), (Rejected, 20)]));
        assert!(has(&c, metric::REACHED, "APPLIED") && has(&c, metric::REACHED, "INTERVIEW"));
        assert!(!has(&c, metric::REACHED, "OFFER"));
        assert!(has(&c, metric::STATUS, "REJECTED"));
        assert!(has(&c, metric::RESPONDED, ""));
        assert!(has(&c, metric::FIRST_RESPONSE_DAYS, "5"));
        assert!(
            has(&c, metric::STAGE_DAYS, "SAVED:1")
                && has(&c, metric::STAGE_DAYS, "APPLIED:5")
                && has(&c, metric::STAGE_DAYS, "INTERVIEW:14")
        );
        // Applied, no answer yet: in the funnel, not responded.
        let waiting = contribution(&snapshot(&[(Applied, 0)]));
        assert!(has(&waiting, metric::REACHED, "APPLIED") && !has(&waiting, metric::RESPONDED, ""));
        // Created straight into INTERVIEW: it was applied.
        let direct = contribution(&snapshot(&[(Interview, 0)]));
        assert!(has(&direct, metric::REACHED, "APPLIED") && has(&direct, metric::REACHED, "INTERVIEW"));
        // Saved then rejected without applying: no response counted.
        let dropped = contribution(&snapshot(&[(Saved, 0), (Rejected, 2)]));
        assert!(!has(&dropped, metric::REACHED, "APPLIED") && !has(&dropped, metric::RESPONDED, ""));
    }

    #[test]
    fn a_digest_counts_exactly_what_the_history_did() {
        let v1 = snapshot(&[(Saved, 0), (Applied, 1), (Interview, 6), (Applied, 8), (Interview, 9), (Rejected, 20)]);
        let v2 = ApplicationSnapshot { status_digest: Some(v1.digest()), status_history: Vec::new(), ..v1.clone() };
        let c = contribution(&v2);
        assert_eq!(contribution(&v1), c);
        assert!(has(&c, metric::FIRST_RESPONSE_DAYS, "5") && has(&c, metric::REACHED, "INTERVIEW"));
        let stays: Vec<(&str, i64)> = c
            .iter()
            .filter(|c| c.counter.metric == metric::STAGE_DAYS)
            .map(|c| (c.counter.key.as_str(), c.count))
            .collect();
        assert_eq!(
            stays,
            [("APPLIED:1", 1), ("APPLIED:5", 1), ("INTERVIEW:11", 1), ("INTERVIEW:2", 1), ("SAVED:1", 1)]
        );
    }

    #[test]
    fn a_long_history_makes_a_small_contribution() {
        let bouncing: Vec<(ApplicationStatus, i64)> =
            (0..400).map(|i| (if i % 2 == 0 { Applied } else { Interview }, i / 40)).collect();
        let c = contribution(&snapshot(&bouncing));
        let stays: i64 = c.iter().filter(|c| c.counter.metric == metric::STAGE_DAYS).map(|c| c.count).sum();
        assert_eq!(stays, 399, "every completed stay counted");
        assert!(c.len() < 20, "{} counters", c.len());
    }

    #[test]
    fn replacing_a_contribution_moves_only_what_changed() {
        let before = contribution(&snapshot(&[(Saved, 0)]));
        let after = contribution(&snapshot(&[(Saved, 0), (Applied, 2)]));
        let net = delta(&before, &after);
        assert_eq!(net.get(&counter(metric::STATUS, "SAVED", "")), Some(&-1));
        assert_eq!(net.get(&counter(metric::STATUS, "APPLIED", "")), Some(&1));
        assert_eq!(net.get(&counter(metric::REACHED, "APPLIED", "")), Some(&1));
        assert!(!net.contains_key(&counter(metric::TOTAL, "", "")));
        assert!(delta(&after, &after).is_empty());
        // Retyping a place differently only changes its label: no count moves.
        let berlin = |label: &str| vec![Counted { counter: counter(metric::LOCATION, "berlin", label), count: 1 }];
        assert!(delta(&berlin("Berlin"), &berlin("berlin")).is_empty());
    }

    #[test]
    fn medians_from_day_histograms() {
        assert_eq!(median_days(&BTreeMap::new()), None);
        assert_eq!(median_days(&BTreeMap::from([(3, 1)])), Some(3.0));
        assert_eq!(median_days(&BTreeMap::from([(1, 1), (3, 1), (10, 1)])), Some(3.0));
        assert_eq!(median_days(&BTreeMap::from([(2, 2), (8, 2)])), Some(5.0));
        assert_eq!(median_days(&BTreeMap::from([(1, 5), (100, 1)])), Some(1.0));
    }

    fn date(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn month_ranges_are_bounded_before_any_month_is_listed() {
        let today = date("2026-11-25");
        let field = |from: &str, to: &str| MonthRange::parse(Some(date(from)), Some(date(to)), today).unwrap_err();
        // The two extremes of the attack: a second of CPU per field, and a panic.
        assert_eq!(field("-262143-01-01", "+262142-11-30").field(), Some("from"));
        assert_eq!(field("+262142-12-01", "+262142-12-31").field(), Some("from"));
        assert_eq!(field("2026-01-01", "+262142-12-31").field(), Some("to"));
        assert_eq!(field("1969-12-31", "2026-01-01").field(), Some("from"));
        assert_eq!(field("2000-01-01", "2100-12-31").field(), Some("to"), "over 240 months");
        assert_eq!(field("2026-03-01", "2026-01-01").field(), Some("from"), "backwards");
        assert_eq!(
            MonthRange::parse(Some(date("2081-01-01")), Some(date("2100-12-31")), today).unwrap().months().len(),
            240
        );
        assert_eq!(MonthRange::parse(None, None, today).unwrap().months().len(), 12);
        assert_eq!(MonthRange::parse(None, Some(date("1970-03-10")), today).unwrap().months().len(), 12);
    }

    #[test]
    fn months_end_at_the_last_representable_month() {
        assert_eq!(months(NaiveDate::MAX, NaiveDate::MAX), vec![date("+262142-12-01")]);
    }

    #[test]
    fn months_include_both_ends() {
        let all = months(NaiveDate::from_ymd_opt(2025, 11, 15).unwrap(), NaiveDate::from_ymd_opt(2026, 2, 3).unwrap());
        let labels: Vec<String> = all.iter().map(|m| m.format("%Y-%m").to_string()).collect();
        assert_eq!(labels, ["2025-11", "2025-12", "2026-01", "2026-02"]);
    }
}
