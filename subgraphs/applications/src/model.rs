//! Rules of a job application: what valid input is, how statuses move, and
//! how lists are ordered and searched. No I/O here.

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use jobtracker_kit::AppError;
use jobtracker_kit::validate::{
    HttpUrl, Patch, like_contains, optional_line, optional_text, required_line, search_text,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 50_000;
pub const MAX_NOTE_CHARS: usize = 2_000;
pub const MAX_SEARCH_CHARS: usize = 100;

// Shared with every service that reads application events (one definition,
// one set of wire names, in kit).
pub use jobtracker_kit::events::contracts::{ApplicationStatus, SalaryPeriod};

/// Active ISO 4217 currency codes (funds, metals and test codes excluded).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let code = raw.trim().to_ascii_uppercase();
        if ISO_4217.binary_search(&code.as_str()).is_err() {
            return Err(AppError::bad_input(
                field,
                format!("{raw:?} is not an ISO 4217 currency code (e.g. EUR, USD)"),
            ));
        }
        Ok(Self(code))
    }

    /// A code read back from storage: three capital letters, not checked
    /// against today's list, which changes (HRK was withdrawn in 2023) — a
    /// code that was valid when it was entered stays readable.
    pub fn from_stored(raw: &str) -> Result<Self, String> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw.to_string()))
        } else {
            Err("not a three-letter currency code".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Salary {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub currency: CurrencyCode,
    pub period: SalaryPeriod,
}

impl Salary {
    pub fn parse(
        min: Option<i32>,
        max: Option<i32>,
        currency: &str,
        period: SalaryPeriod,
        field: &str,
    ) -> Result<Self, AppError> {
        if min.is_none() && max.is_none() {
            return Err(AppError::bad_input(field, "a salary needs min, max or both"));
        }
        for (name, value) in [("min", min), ("max", max)] {
            if value.is_some_and(|v| v < 0) {
                return Err(AppError::bad_input(format!("{field}.{name}"), "salary cannot be negative"));
            }
        }
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(AppError::bad_input(
                format!("{field}.max"),
                format!("max ({max}) must not be below min ({min})"),
            ));
        }
        Ok(Self { min, max, currency: CurrencyCode::parse(currency, &format!("{field}.currency"))?, period })
    }
}

/// A job application, as stored (the store builds it from its row).
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary: Option<Salary>,
    pub job_description: Option<String>,
    pub job_url: Option<HttpUrl>,
    pub status: ApplicationStatus,
    /// First time the status became APPLIED.
    pub applied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change (the events' aggregate version).
    pub version: i64,
}

/// One entry of an application's status history.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    pub application_id: Uuid,
    /// None for the creation entry.
    pub from: Option<ApplicationStatus>,
    pub to: ApplicationStatus,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// Raw salary input, as GraphQL delivers it.
pub struct RawSalary {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub currency: String,
    pub period: SalaryPeriod,
}

fn salary(raw: Option<RawSalary>, field: &str) -> Result<Option<Salary>, AppError> {
    raw.map(|s| Salary::parse(s.min, s.max, &s.currency, s.period, field)).transpose()
}

fn company(raw: &str) -> Result<String, AppError> {
    required_line(raw, "input.company", MAX_NAME_CHARS)
}

fn position(raw: &str) -> Result<String, AppError> {
    required_line(raw, "input.position", MAX_NAME_CHARS)
}

fn job_url(raw: Option<&str>) -> Result<Option<HttpUrl>, AppError> {
    raw.map(str::trim).filter(|u| !u.is_empty()).map(|u| HttpUrl::parse(u, "input.jobUrl")).transpose()
}

/// A new application, validated.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary: Option<Salary>,
    pub job_description: Option<String>,
    pub job_url: Option<HttpUrl>,
    pub status: ApplicationStatus,
}

pub struct RawNewApplication {
    pub company: String,
    pub position: String,
    pub location: Option<String>,
    pub salary: Option<RawSalary>,
    pub job_description: Option<String>,
    pub job_url: Option<String>,
    pub status: ApplicationStatus,
}

impl NewApplication {
    pub fn parse(raw: RawNewApplication) -> Result<Self, AppError> {
        Ok(Self {
            company: company(&raw.company)?,
            position: position(&raw.position)?,
            location: optional_line(raw.location.as_deref(), "input.location", MAX_NAME_CHARS)?,
            salary: salary(raw.salary, "input.salary")?,
            job_description: optional_text(
                raw.job_description.as_deref(),
                "input.jobDescription",
                MAX_DESCRIPTION_CHARS,
            )?,
            job_url: job_url(raw.job_url.as_deref())?,
            status: raw.status,
        })
    }
}

pub struct RawApplicationPatch {
    pub company: Patch<String>,
    pub position: Patch<String>,
    pub location: Patch<String>,
    pub salary: Patch<RawSalary>,
    pub job_description: Patch<String>,
    pub job_url: Patch<String>,
}

/// A validated change: `None` keeps, `Some(None)` clears.
#[derive(Debug, Default)]
pub struct ApplicationPatch {
    pub company: Option<String>,
    pub position: Option<String>,
    pub location: Option<Option<String>>,
    pub salary: Option<Option<Salary>>,
    pub job_description: Option<Option<String>>,
    pub job_url: Option<Option<HttpUrl>>,
}

impl ApplicationPatch {
    pub fn parse(raw: RawApplicationPatch) -> Result<Self, AppError> {
        Ok(Self {
            company: raw.company.required("input.company", |v| company(&v))?,
            position: raw.position.required("input.position", |v| position(&v))?,
            location: raw.location.optional(|v| optional_line(Some(&v), "input.location", MAX_NAME_CHARS))?,
            salary: raw.salary.optional(|v| salary(Some(v), "input.salary"))?,
            job_description: raw
                .job_description
                .optional(|v| optional_text(Some(&v), "input.jobDescription", MAX_DESCRIPTION_CHARS))?,
            job_url: raw.job_url.optional(|v| job_url(Some(&v)))?,
        })
    }
}

pub fn parse_note(note: Option<&str>) -> Result<Option<String>, AppError> {
    optional_text(note, "note", MAX_NOTE_CHARS)
}

/// `appliedAt` is the first time the status became APPLIED.
pub fn applied_at(
    current: Option<DateTime<Utc>>,
    new_status: ApplicationStatus,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    current.or((new_status == ApplicationStatus::Applied).then_some(at))
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApplicationOrder {
    #[default]
    Newest,
    Oldest,
    RecentlyUpdated,
}

/// Position in a list: the sort key of the last row, with the order it
/// belongs to (a cursor from another order is refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCursor {
    pub order: ApplicationOrder,
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// A search term as a LIKE pattern over `lower(company ␟ position)`.
pub fn search_pattern(raw: &str) -> Result<Option<String>, AppError> {
    let term = search_text(raw, "filter.search", MAX_SEARCH_CHARS)?;
    Ok((!term.is_empty()).then(|| like_contains(&term)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawNewApplication {
        RawNewApplication {
            company: "Acme".into(),
            position: "Backend Engineer".into(),
            location: None,
            salary: None,
            job_description: None,
            job_url: None,
            status: ApplicationStatus::Saved,
        }
    }

    fn salary_input(min: Option<i32>, max: Option<i32>, currency: &str) -> Option<RawSalary> {
        Some(RawSalary { min, max, currency: currency.into(), period: SalaryPeriod::Year })
    }

    #[test]
    fn the_currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_stored_currency_code_needs_its_shape_not_todays_list() {
        assert_eq!(CurrencyCode::from_stored("HRK").unwrap().as_str(), "HRK");
        for bad in ["", "eur", "EURO", "E1R"] {
            assert!(CurrencyCode::from_stored(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn company_and_position_are_required_and_bounded() {
        for (input, field) in [
            (RawNewApplication { company: "  ".into(), ..raw() }, "input.company"),
            (RawNewApplication { position: "".into(), ..raw() }, "input.position"),
            (RawNewApplication { company: "x".repeat(201), ..raw() }, "input.company"),
        ] {
            assert_eq!(NewApplication::parse(input).unwrap_err().field(), Some(field));
        }
        let ok = NewApplication::parse(RawNewApplication { company: "  Acme ".into(), ..raw() }).unwrap();
        assert_eq!(ok.company, "Acme");
    }

    #[test]
    fn salary_rules() {
        let parse = |s| NewApplication::parse(RawNewApplication { salary: s, ..raw() }).map(|a| a.salary);
        assert_eq!(parse(salary_input(Some(90), Some(80), "EUR")).unwrap_err().field(), Some("input.salary.max"));
        assert_eq!(parse(salary_input(Some(-1), None, "EUR")).unwrap_err().field(), Some("input.salary.min"));
        assert_eq!(parse(salary_input(Some(1), None, "EURO")).unwrap_err().field(), Some("input.salary.currency"));
        assert_eq!(parse(salary_input(Some(1), None, "XAU")).unwrap_err().field(), Some("input.salary.currency"));
        assert_eq!(parse(salary_input(None, None, "EUR")).unwrap_err().field(), Some("input.salary"));
        let ok = parse(salary_input(Some(80_000), Some(80_000), " usd ")).unwrap().unwrap();
        assert_eq!(ok.currency.as_str(), "USD");
    }

    #[test]
    fn job_url_must_be_http_and_description_is_bounded() {
        let err = NewApplication::parse(RawNewApplication { job_url: Some("javascript:alert(1)".into()), ..raw() })
            .unwrap_err();
        assert_eq!(err.field(), Some("input.jobUrl"));
        let long = "é".repeat(MAX_DESCRIPTION_CHARS + 1);
        let err = NewApplication::parse(RawNewApplication { job_description: Some(long), ..raw() }).unwrap_err();
        assert_eq!(err.field(), Some("input.jobDescription"));
        let fits = "é".repeat(MAX_DESCRIPTION_CHARS);
        assert!(NewApplication::parse(RawNewApplication { job_description: Some(fits), ..raw() }).is_ok());
    }

    #[test]
    fn applied_at_is_the_first_time_applied() {
        let t1 = Utc::now();
        let t2 = t1 + chrono::Duration::days(3);
        assert_eq!(applied_at(None, ApplicationStatus::Saved, t1), None);
        assert_eq!(applied_at(None, ApplicationStatus::Applied, t1), Some(t1));
        assert_eq!(applied_at(Some(t1), ApplicationStatus::Applied, t2), Some(t1));
        assert_eq!(applied_at(Some(t1), ApplicationStatus::Rejected, t2), Some(t1));
    }

    #[test]
    fn patches_keep_clear_or_set() {
        let patch = ApplicationPatch::parse(RawApplicationPatch {
            company: Patch::Keep,
            position: Patch::Set(" Staff Engineer ".into()),
            location: Patch::Clear,
            salary: Patch::Keep,
            job_description: Patch::Keep,
            job_url: Patch::Set("https://jobs.example.com/1".into()),
        })
        .unwrap();
        assert_eq!(patch.company, None);
        assert_eq!(patch.position.as_deref(), Some("Staff Engineer"));
        assert_eq!(patch.location, Some(None));
        let cleared_company = ApplicationPatch::parse(RawApplicationPatch {
            company: Patch::Clear,
            position: Patch::Keep,
            location: Patch::Keep,
            salary: Patch::Keep,
            job_description: Patch::Keep,
            job_url: Patch::Keep,
        });
        assert_eq!(cleared_company.unwrap_err().field(), Some("input.company"));
    }

    #[test]
    fn search_terms_are_lower_cased_and_escaped() {
        assert_eq!(search_pattern(" Rust_Dev% ").unwrap().as_deref(), Some("%rust\\_dev\\%%"));
        assert_eq!(search_pattern("   ").unwrap(), None);
        assert_eq!(search_pattern(&"a".repeat(101)).unwrap_err().field(), Some("filter.search"));
    }
}
