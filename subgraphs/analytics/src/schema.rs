//! analytics' part of the supergraph: `Query.analytics`, the viewer's
//! numbers, read from counters kept up to date by events.

use std::collections::BTreeMap;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, InputValueError, InputValueResult, Object, Result, Scalar, ScalarType,
    Schema, SchemaBuilder, SimpleObject, Value,
};
use chrono::NaiveDate;
use jobtracker_kit::AppResult;
use jobtracker_kit::events::contracts::ApplicationStatus;
use jobtracker_kit::graphql::require_viewer;
use jobtracker_kit::stored::Column;

use crate::classify::CATEGORIES;
use crate::model::{FUNNEL, MonthRange, median_days, metric};
use crate::store::{CounterRow, Store};

pub type AnalyticsSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[derive(SimpleObject)]
pub struct MonthCount {
    /// YYYY-MM.
    pub month: String,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: ApplicationStatus,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct BucketCount {
    pub label: String,
    pub count: i32,
}

/// How many applications ever reached each stage (from the status history).
#[derive(SimpleObject)]
pub struct Funnel {
    pub applied: i32,
    pub interview: i32,
    pub offer: i32,
    /// interview / applied; null when nothing was applied.
    pub applied_to_interview_rate: Option<f64>,
    /// offer / interview; null when no interview was reached.
    pub interview_to_offer_rate: Option<f64>,
    /// offer / applied.
    pub applied_to_offer_rate: Option<f64>,
}

#[derive(SimpleObject)]
pub struct StageDuration {
    pub status: ApplicationStatus,
    /// Median whole days spent in this status before leaving it; null without samples.
    pub median_days: Option<f64>,
    /// Completed stays measured.
    pub samples: i32,
}

/// The viewer's job-hunt numbers.
pub struct Analytics {
    counters: Vec<CounterRow>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Analytics {
    fn count(&self, metric: &str, key: &str) -> i64 {
        self.counters.iter().find(|c| c.metric == metric && c.key == key).map_or(0, |c| c.count)
    }

    fn of(&self, metric: &'static str) -> impl Iterator<Item = &CounterRow> {
        self.counters.iter().filter(move |c| c.metric == metric)
    }

    /// Counts by whole days of the counters `<prefix><days>` of a metric. A
    /// key whose days do not read fails the answer (INTERNAL, logged), rather
    /// than leaving its samples out of a median unnoticed.
    fn histogram(&self, metric: &'static str, prefix: &str) -> AppResult<BTreeMap<i64, i64>> {
        let mut histogram = BTreeMap::new();
        for c in self.of(metric) {
            let Some(days) = c.key.strip_prefix(prefix) else { continue };
            let days: i64 = days
                .parse()
                .map_err(|err| Column::new("user_counters", "key").unreadable(metric, Some(&c.key), err))?;
            *histogram.entry(days).or_insert(0) += c.count;
        }
        Ok(histogram)
    }

    fn buckets(&self, metric: &'static str) -> Vec<BucketCount> {
        let mut buckets: Vec<BucketCount> =
            self.of(metric).map(|c| BucketCount { label: c.label.clone(), count: c.count as i32 }).collect();
        buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
        buckets
    }
}

#[Object]
impl Analytics {
    async fn total_applications(&self) -> i32 {
        self.count(metric::TOTAL, "") as i32
    }

    /// Applications per month (by appliedAt, else createdAt), every month of
    /// [from, to] including empty ones. Defaults: the last 12 months. Dates
    /// between 1970 and 2100, at most 240 months (BAD_USER_INPUT otherwise).
    async fn applications_per_month(&self, from: Option<Date>, to: Option<Date>) -> Result<Vec<MonthCount>> {
        let today = jobtracker_kit::db::now().date_naive();
        let range = MonthRange::parse(from.map(|d| d.0), to.map(|d| d.0), today)?;
        Ok(range
            .months()
            .into_iter()
            .map(|month| {
                let key = month.format("%Y-%m").to_string();
                MonthCount { count: self.count(metric::MONTH, &key) as i32, month: key }
            })
            .collect())
    }

    /// Every status, zeros included.
    async fn status_breakdown(&self) -> Vec<StatusCount> {
        ApplicationStatus::ALL
            .iter()
            .map(|&status| StatusCount { status, count: self.count(metric::STATUS, status.as_str()) as i32 })
            .collect()
    }

    /// Every position category (Frontend, Backend, Full-stack, Mobile, DevOps, Data,
    /// ML/AI, QA, Security, Design, Product, Management, Other), largest first, zeros included.
    async fn position_distribution(&self) -> Vec<BucketCount> {
        let mut buckets: Vec<BucketCount> = CATEGORIES
            .iter()
            .map(|c| BucketCount { label: c.to_string(), count: self.count(metric::CATEGORY, c) as i32 })
            .collect();
        buckets.sort_by_key(|b| std::cmp::Reverse(b.count));
        buckets
    }

    /// By location, largest first; "Remote" is one bucket whatever the wording.
    async fn location_distribution(&self) -> Vec<BucketCount> {
        self.buckets(metric::LOCATION)
    }

    /// Applications that ever reached APPLIED, INTERVIEW, OFFER.
    async fn funnel(&self) -> Funnel {
        let [applied, interview, offer] = FUNNEL.map(|stage| self.count(metric::REACHED, stage.as_str()));
        Funnel {
            applied: applied as i32,
            interview: interview as i32,
            offer: offer as i32,
            applied_to_interview_rate: ratio(interview, applied),
            interview_to_offer_rate: ratio(offer, interview),
            applied_to_offer_rate: ratio(offer, applied),
        }
    }

    /// Share of applied applications that got an answer (moved on, or were
    /// rejected); null when nothing was applied.
    async fn response_rate(&self) -> Option<f64> {
        ratio(self.count(metric::RESPONDED, ""), self.count(metric::REACHED, ApplicationStatus::Applied.as_str()))
    }

    /// Median whole days from applying to the first answer.
    async fn median_days_to_first_response(&self) -> Result<Option<f64>> {
        Ok(median_days(&self.histogram(metric::FIRST_RESPONSE_DAYS, "")?))
    }

    /// Median whole days spent in each status before leaving it.
    async fn median_days_in_stage(&self) -> Result<Vec<StageDuration>> {
        let mut stages = Vec::new();
        for &status in ApplicationStatus::ALL {
            let histogram = self.histogram(metric::STAGE_DAYS, &format!("{status}:"))?;
            stages.push(StageDuration {
                status,
                samples: histogram.values().sum::<i64>() as i32,
                median_days: median_days(&histogram),
            });
        }
        Ok(stages)
    }

    /// Interviews scheduled and not cancelled.
    async fn interview_count(&self) -> i32 {
        self.count(metric::INTERVIEWS, "") as i32
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The viewer's analytics.
    async fn analytics(&self, ctx: &Context<'_>) -> Result<Analytics> {
        let viewer = require_viewer(ctx)?;
        Ok(Analytics { counters: ctx.data_unchecked::<Store>().counters(viewer.user_id).await? })
    }
}

pub fn schema_builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .extension(async_graphql::extensions::Tracing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(metric: &str, key: &str, count: i64) -> CounterRow {
        CounterRow { metric: metric.into(), key: key.into(), label: String::new(), count }
    }

    #[test]
    fn stage_days_are_read_per_status_and_an_unreadable_key_is_an_error_naming_it() {
        let analytics = Analytics {
            counters: vec![
                counter(metric::STAGE_DAYS, "APPLIED:3", 2),
                counter(metric::STAGE_DAYS, "APPLIED:5", 1),
                counter(metric::STAGE_DAYS, "OFFER:1", 1),
            ],
        };
        assert_eq!(analytics.histogram(metric::STAGE_DAYS, "APPLIED:").unwrap(), BTreeMap::from([(3, 2), (5, 1)]));

        let corrupt = Analytics { counters: vec![counter(metric::STAGE_DAYS, "APPLIED:three", 1)] };
        let err = corrupt.histogram(metric::STAGE_DAYS, "APPLIED:").unwrap_err();
        assert_eq!(err.code(), jobtracker_kit::error::ErrorCode::Internal);
        let jobtracker_kit::AppError::Internal(cause) = err else { unreachable!() };
        assert!(format!("{cause}").contains("user_counters.key of row stage_days is \"APPLIED:three\""), "{cause}");
    }
}
