//! Reports for the Dinas (DESIGN §6, `GET /v1/reports/summary?from=&to=`): how many requests
//! were submitted in a period of days, and where they are now, as counts only.
//!
//! * The period is a range of days in Bekasi (WIB, UTC+7, no daylight saving), both ends
//!   included: `from` 00:00 WIB up to, not including, the day after `to` 00:00 WIB
//!   ([`Period`]). Without `to` it ends today in WIB (by the injected clock); without `from`
//!   it starts [`DEFAULT_DAYS`] − 1 days before `to`; it spans at most [`MAX_DAYS`] days.
//! * A request counts in the period of the day it was **submitted** (`created_at`), by its
//!   **current** status. The store lists exactly those requests as a range of a listing index
//!   ([`crate::ports::ListQuery::created_from`]); [`summary`] pages through them and adds them
//!   up with [`Tally`], one page at a time.
//! * A report carries no NIK, KK, name, phone, address or free text of anybody: only counts,
//!   kelurahan and kecamatan names, and the period. [`Summary::to_csv`] renders the
//!   per-kelurahan table for a spreadsheet.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::household::{Category, Urgency};
use crate::i18n::Text;
use crate::lifecycle::Status;
use crate::ports::{Deps, ListQuery};
use crate::request::{AidRequest, DecisionKind, Flag};
use crate::time::{wib_date, wib_midnight};
use crate::usecases::PAGE_MAX;
use crate::validation::FieldError;

/// The longest period a report covers, in days (a leap year).
pub const MAX_DAYS: i64 = 366;
/// The period when `from` is not given: this many days, ending on `to`.
pub const DEFAULT_DAYS: i64 = 30;
/// The time zone the report's days are in.
pub const TIMEZONE: &str = "Asia/Jakarta";
/// How many requests the report reads per store page.
const PAGE: u32 = PAGE_MAX;

/// Days in Bekasi, `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The query parameters of `GET /v1/reports/summary`, as received.
#[derive(Debug, Default, Clone)]
pub struct SummaryParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A date written exactly `YYYY-MM-DD` (chrono alone would also take `2026-1-5` or `+2026-…`).
fn parse_day(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

fn not_a_date(field: &str) -> FieldError {
    FieldError::new(
        field,
        "DATE_INVALID",
        Text::fixed(
            "Tanggal harus ditulis TTTT-BB-HH dan ada di kalender, misalnya 2026-12-04.",
            "The date must be written YYYY-MM-DD and exist, e.g. 2026-12-04.",
        ),
    )
}

impl Period {
    /// Reads `from` and `to`; `today` is today's date in WIB. Every problem is reported at
    /// once: a field that is not a date under its own name; `from` after `to` and a period
    /// longer than [`MAX_DAYS`] under `from` (the end that moves with the defaults).
    pub fn read(params: &SummaryParams, today: NaiveDate) -> Result<Period, Vec<FieldError>> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut errors = Vec::new();
        let mut day = |field: &str, raw: Option<String>| match raw {
            None => Ok(None),
            Some(raw) => match parse_day(&raw) {
                Some(d) => Ok(Some(d)),
                None => {
                    errors.push(not_a_date(field));
                    Err(())
                }
            },
        };
        let from = day("from", given(&params.from));
        let to = day("to", given(&params.to));
        let (Ok(from), Ok(to)) = (from, to) else {
            return Err(errors);
        };
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            errors.push(FieldError::new(
                "from",
                "PERIOD_REVERSED",
                Text::new(
                    format!("Tanggal from ({from}) tidak boleh sesudah tanggal to ({to})."),
                    format!("The from date ({from}) cannot be after the to date ({to})."),
                ),
            ));
        } else if (to - from).num_days() + 1 > MAX_DAYS {
            errors.push(FieldError::new(
                "from",
                "PERIOD_TOO_LONG",
                Text::new(
                    format!(
                        "Periode laporan paling panjang {MAX_DAYS} hari; {from} sampai {to} adalah {} hari.",
                        (to - from).num_days() + 1
                    ),
                    format!(
                        "A report covers at most {MAX_DAYS} days; {from} to {to} is {} days.",
                        (to - from).num_days() + 1
                    ),
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Period { from, to })
        } else {
            Err(errors)
        }
    }

    /// The first instant of the period: `from` 00:00 WIB.
    pub fn start(&self) -> DateTime<Utc> {
        wib_midnight(self.from)
    }

    /// The first instant after the period: the day after `to`, 00:00 WIB.
    pub fn end(&self) -> DateTime<Utc> {
        wib_midnight(self.to + Duration::days(1))
    }

    /// How many days the period covers.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether `t` falls on one of the period's days in WIB.
    pub fn contains(&self, t: &DateTime<Utc>) -> bool {
        *t >= self.start() && *t < self.end()
    }
}

/// Requests per status, every status present (zeros included), in lifecycle order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCounts {
    pub submitted: u64,
    pub survey_assigned: u64,
    pub surveyed: u64,
    pub approved: u64,
    pub rejected: u64,
    pub waitlisted: u64,
    pub allocated: u64,
    pub dispatched: u64,
    pub delivered: u64,
    pub cancelled: u64,
}

impl StatusCounts {
    fn slot(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Submitted => &mut self.submitted,
            Status::SurveyAssigned => &mut self.survey_assigned,
            Status::Surveyed => &mut self.surveyed,
            Status::Approved => &mut self.approved,
            Status::Rejected => &mut self.rejected,
            Status::Waitlisted => &mut self.waitlisted,
            Status::Allocated => &mut self.allocated,
            Status::Dispatched => &mut self.dispatched,
            Status::Delivered => &mut self.delivered,
            Status::Cancelled => &mut self.cancelled,
        }
    }

    fn add(&mut self, status: Status) {
        *self.slot(status) += 1;
    }

    /// The count of one status.
    pub fn get(&self, status: Status) -> u64 {
        let mut copy = *self;
        *copy.slot(status)
    }
}

/// Requests per category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryCounts {
    pub miskin_ekstrem: u64,
    pub rentan_miskin: u64,
}

/// Requests per urgency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UrgencyCounts {
    pub darurat: u64,
    pub biasa: u64,
}

/// Requests carrying each flag (a request may carry several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FlagCounts {
    /// The head's NIK was not in the registry.
    pub not_in_registry: u64,
    /// The registry ranked the household above the target deciles.
    pub desil_above_target: u64,
    /// Submitted within the cool-down, with an override reason.
    pub cooldown_override: u64,
}

/// How long decisions took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct DecisionTime {
    /// Requests of the period with a decision (approved or rejected, whatever came after).
    pub decided: u64,
    /// The median time from submission to decision, in hours to one decimal; `null` when
    /// nothing was decided.
    pub median_hours: Option<f64>,
}

/// One kelurahan's requests of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KelurahanSummary {
    #[schema(example = "32.75.01.1001")]
    pub kelurahan_code: String,
    #[schema(example = "Bekasijaya")]
    pub kelurahan: String,
    #[schema(example = "Bekasi Timur")]
    pub kecamatan: String,
    pub total: u64,
    pub by_status: StatusCounts,
}

/// `GET /v1/reports/summary`: the requests submitted in the period, counted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Summary {
    /// First day of the period (WIB), included.
    #[schema(value_type = String, example = "2026-11-05")]
    pub from: NaiveDate,
    /// Last day of the period (WIB), included.
    #[schema(value_type = String, example = "2026-12-04")]
    pub to: NaiveDate,
    /// The days are days in this zone (WIB, UTC+7).
    #[schema(example = "Asia/Jakarta")]
    pub timezone: &'static str,
    /// When the report was made (UTC).
    pub generated_at: DateTime<Utc>,
    /// Requests submitted in the period.
    pub total: u64,
    /// By current status.
    pub by_status: StatusCounts,
    pub by_category: CategoryCounts,
    pub by_urgency: UrgencyCounts,
    pub flags: FlagCounts,
    /// Packages approved for the requests that are approved and not cancelled or rejected
    /// since (approved, waitlisted, allocated, dispatched, delivered).
    pub packages_approved: u64,
    pub decision_time: DecisionTime,
    /// The kelurahan with requests in the period, by code.
    pub by_kelurahan: Vec<KelurahanSummary>,
}

/// Statuses whose approval still stands: the approved packages are (or were) on their way.
const APPROVED_AND_LATER: [Status; 5] = [
    Status::Approved,
    Status::Waitlisted,
    Status::Allocated,
    Status::Dispatched,
    Status::Delivered,
];

/// Adds requests up, one at a time, so that a report never holds more than a page of them.
#[derive(Debug, Default)]
pub struct Tally {
    total: u64,
    by_status: StatusCounts,
    by_category: CategoryCounts,
    by_urgency: UrgencyCounts,
    flags: FlagCounts,
    packages_approved: u64,
    /// Seconds from submission to decision, one per decided request.
    decision_seconds: Vec<i64>,
    by_kelurahan: BTreeMap<&'static str, (u64, StatusCounts)>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    pub fn add(&mut self, r: &AidRequest) {
        self.total += 1;
        self.by_status.add(r.status);
        match r.category {
            Category::MiskinEkstrem => self.by_category.miskin_ekstrem += 1,
            Category::RentanMiskin => self.by_category.rentan_miskin += 1,
        }
        match r.urgency {
            Urgency::Darurat => self.by_urgency.darurat += 1,
            Urgency::Biasa => self.by_urgency.biasa += 1,
        }
        // A flag listed twice still marks the request once.
        let has = |f: Flag| r.flags.contains(&f);
        self.flags.not_in_registry += u64::from(has(Flag::NotInRegistry));
        self.flags.desil_above_target += u64::from(has(Flag::DesilAboveTarget));
        self.flags.cooldown_override += u64::from(has(Flag::CooldownOverride));
        if let Some(d) = &r.decision {
            self.decision_seconds
                .push((d.decided_at - r.created_at).num_seconds().max(0));
            if d.decision == DecisionKind::Approve && APPROVED_AND_LATER.contains(&r.status) {
                self.packages_approved += u64::from(d.packages.unwrap_or(0));
            }
        }
        let kel = self
            .by_kelurahan
            .entry(r.kelurahan_code.as_str())
            .or_default();
        kel.0 += 1;
        kel.1.add(r.status);
    }

    /// The report of `period`, made at `generated_at`.
    pub fn finish(mut self, period: Period, generated_at: DateTime<Utc>) -> Summary {
        Summary {
            from: period.from,
            to: period.to,
            timezone: TIMEZONE,
            generated_at,
            total: self.total,
            by_status: self.by_status,
            by_category: self.by_category,
            by_urgency: self.by_urgency,
            flags: self.flags,
            packages_approved: self.packages_approved,
            decision_time: DecisionTime {
                decided: self.decision_seconds.len() as u64,
                median_hours: median_hours(&mut self.decision_seconds),
            },
            by_kelurahan: self
                .by_kelurahan
                .into_iter()
                .map(|(code, (total, by_status))| {
                    let k = crate::KelurahanCode::parse(code).expect("a stored kelurahan code");
                    KelurahanSummary {
                        kelurahan_code: code.to_string(),
                        kelurahan: k.name().to_string(),
                        kecamatan: k.kecamatan_name().to_string(),
                        total,
                        by_status,
                    }
                })
                .collect(),
        }
    }
}

/// The median of `seconds`, in hours rounded to one decimal (the mean of the middle two for an
/// even count); `None` for none.
fn median_hours(seconds: &mut [i64]) -> Option<f64> {
    if seconds.is_empty() {
        return None;
    }
    seconds.sort_unstable();
    let n = seconds.len();
    let median = if n % 2 == 1 {
        seconds[n / 2] as f64
    } else {
        (seconds[n / 2 - 1] as f64 + seconds[n / 2] as f64) / 2.0
    };
    Some((median / 360.0).round() / 10.0)
}

impl Summary {
    /// The name a downloaded CSV gets: `basoka-ringkasan-<from>-<to>.csv`.
    pub fn csv_filename(&self) -> String {
        format!("basoka-ringkasan-{}-{}.csv", self.from, self.to)
    }

    /// One row per kelurahan with requests, then a `TOTAL` row:
    /// `kelurahan_code,kelurahan,total,<one column per status>`. Comma separated, quoted
    /// where a field needs it, CRLF line ends (RFC 4180; what Excel writes and reads).
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let mut header = vec![
            "kelurahan_code".to_string(),
            "kelurahan".to_string(),
            "total".to_string(),
        ];
        header.extend(Status::ALL.iter().map(|s| s.as_str().to_string()));
        let row = |code: &str, name: &str, total: u64, counts: &StatusCounts| {
            let mut r = vec![code.to_string(), name.to_string(), total.to_string()];
            r.extend(Status::ALL.iter().map(|s| counts.get(*s).to_string()));
            r
        };
        let mut rows = vec![header];
        for k in &self.by_kelurahan {
            rows.push(row(&k.kelurahan_code, &k.kelurahan, k.total, &k.by_status));
        }
        rows.push(row("TOTAL", "", self.total, &self.by_status));
        for r in rows {
            w.write_record(&r).expect("writing to memory cannot fail");
        }
        let bytes = w.into_inner().expect("writing to memory cannot fail");
        String::from_utf8(bytes).expect("the fields are UTF-8")
    }
}

/// `GET /v1/reports/summary` — Dinas only. Reads every request submitted in the period, a
/// page at a time through the listing's creation range, and counts them.
pub async fn summary(
    deps: &Deps,
    caller: &Caller,
    params: &SummaryParams,
) -> Result<Summary, AppError> {
    if !caller.is_one_of(&[Role::Dinas]) {
        return Err(AppError::Forbidden);
    }
    let now = deps.clock.now();
    let period = Period::read(params, wib_date(&now)).map_err(AppError::Validation)?;
    let mut tally = Tally::new();
    let mut cursor = None;
    loop {
        let page = deps
            .requests
            .list(&ListQuery {
                kelurahan: None,
                status: None,
                created_from: Some(period.start()),
                created_before: Some(period.end()),
                limit: PAGE,
                cursor,
            })
            .await?;
        for r in &page.items {
            tally.add(r);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(tally.finish(period, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Page, StoreError};
    use crate::request::{ActorRef, Decision, Delivery};
    use std::sync::Arc;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn params(from: Option<&str>, to: Option<&str>) -> SummaryParams {
        SummaryParams {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    const TODAY: &str = "2026-12-04";

    #[test]
    fn defaults_are_the_thirty_days_up_to_today() {
        let p = Period::read(&params(None, None), day(TODAY)).unwrap();
        assert_eq!((p.from, p.to), (day("2026-11-05"), day("2026-12-04")));
        assert_eq!(p.days(), 30);
        let p = Period::read(&params(None, Some("2026-02-10")), day(TODAY)).unwrap();
        assert_eq!(p.from, day("2026-01-12"), "30 days ending on `to`");
        let p = Period::read(&params(Some("2026-12-01"), None), day(TODAY)).unwrap();
        assert_eq!((p.from, p.to), (day("2026-12-01"), day(TODAY)));
        // Blank parameters are absent ones.
        let p = Period::read(&params(Some(" "), Some("")), day(TODAY)).unwrap();
        assert_eq!(p.to, day(TODAY));
        // One day.
        let p = Period::read(&params(Some(TODAY), Some(TODAY)), day(TODAY)).unwrap();
        assert_eq!(p.days(), 1);
    }

    #[test]
    fn days_are_wib_days_both_ends_included() {
        let p = Period {
            from: day("2026-12-01"),
            to: day("2026-12-02"),
        };
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 1 December 00:00 WIB is 30 November 17:00 UTC.
        assert_eq!(p.start(), t("2026-11-30T17:00:00Z"));
        assert_eq!(p.end(), t("2026-12-02T17:00:00Z"));
        assert!(
            p.contains(&t("2026-11-30T17:00:00Z")),
            "from 00:00 WIB is in"
        );
        assert!(!p.contains(&t("2026-11-30T16:59:59.999999999Z")));
        assert!(
            p.contains(&t("2026-12-02T16:59:59.999999999Z")),
            "to 23:59:59.999 WIB"
        );
        assert!(
            !p.contains(&t("2026-12-02T17:00:00Z")),
            "to+1 00:00 WIB is out"
        );
        // Today is the WIB date: at 18:00 UTC on the 4th it is already the 5th in Bekasi.
        let late = t("2026-12-04T18:00:00Z");
        let p = Period::read(&params(None, None), wib_date(&late)).unwrap();
        assert_eq!(p.to, day("2026-12-05"));
        assert!(p.contains(&late));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let e = Period::read(&params(Some("kemarin"), Some("2026-13-01")), day(TODAY)).unwrap_err();
        assert_eq!(
            fields(&e),
            [("from", "DATE_INVALID"), ("to", "DATE_INVALID")]
        );
        assert!(e[0].message.id.contains("TTTT-BB-HH"), "{:?}", e[0].message);
        assert!(e[0].message.en.contains("YYYY-MM-DD"), "{:?}", e[0].message);
        for bad in [
            "2026-2-01",
            "2026-02-1",
            "+2026-02-01",
            "2026/02/01",
            "01-02-2026",
            "2026-02-30",
            "2026-02-01T00:00:00Z",
            "20260201",
        ] {
            let e = Period::read(&params(Some(bad), None), day(TODAY)).unwrap_err();
            assert_eq!(fields(&e), [("from", "DATE_INVALID")], "{bad}");
        }
        let e = Period::read(&params(None, Some("x")), day(TODAY)).unwrap_err();
        assert_eq!(fields(&e), [("to", "DATE_INVALID")]);
    }

    #[test]
    fn from_after_to_and_too_long_periods_are_refused() {
        let e =
            Period::read(&params(Some("2026-12-05"), Some("2026-12-04")), day(TODAY)).unwrap_err();
        assert_eq!(fields(&e), [("from", "PERIOD_REVERSED")]);
        // From after today, to defaulting to today.
        let e = Period::read(&params(Some("2026-12-25"), None), day(TODAY)).unwrap_err();
        assert_eq!(fields(&e), [("from", "PERIOD_REVERSED")]);
        // 366 days is the most (2028 is a leap year: 2028-01-01..2028-12-31).
        let p = Period::read(&params(Some("2028-01-01"), Some("2028-12-31")), day(TODAY)).unwrap();
        assert_eq!(p.days(), MAX_DAYS);
        let e =
            Period::read(&params(Some("2025-12-03"), Some("2026-12-04")), day(TODAY)).unwrap_err();
        assert_eq!(fields(&e), [("from", "PERIOD_TOO_LONG")]);
        assert!(e[0].message.en.contains("367 days"), "{:?}", e[0].message);
        let ok = Period::read(&params(Some("2025-12-04"), Some("2026-12-04")), day(TODAY));
        assert_eq!(ok.map(|p| p.days()), Ok(366));
    }

    /// A request of household `serial` in `kel`, now `status`, with personal data a report
    /// must never show.
    fn request(serial: u16, kel: &str, status: Status, created_at: &str) -> AidRequest {
        let body = serde_json::json!({
            "id": crate::RequestId::new(), "code": "BSK-7K3M9Q", "status": status, "version": 1,
            "kelurahan_code": kel,
            "household": {"head_nik": format!("327501410190{serial:04}"),
                "kk": format!("327501020304{serial:04}"), "head_name": "Siti Aminah",
                "members": 4, "phone": "+6281234567890",
                "address": {"street": "Jl. Melati No. 7", "rt": "003", "rw": "011", "kelurahan_code": kel}},
            "category": "miskin_ekstrem", "urgency": "darurat",
            "situation": "Kepala keluarga sakit sejak dua minggu",
            "reported_by": {"name": "Pak Joko (PSM)", "phone": "+6281298765432"},
            "registry": {"found": true, "desil": 1}, "flags": [], "override_reason": null,
            "submitted_by": {"sub": "kel-1", "name": "Staf", "phone": "+6281211110001"},
            "survey": null, "survey_report": null, "decision": null, "cancellation": null,
            "created_at": created_at, "updated_at": created_at
        });
        serde_json::from_value(body).unwrap()
    }

    fn decided(mut r: AidRequest, kind: DecisionKind, hours: i64, packages: u32) -> AidRequest {
        r.decision = Some(Decision {
            decision: kind,
            reason: "alasan".into(),
            package_code: (kind == DecisionKind::Approve).then(|| "PAKET-SEMBAKO".into()),
            packages: (kind == DecisionKind::Approve).then_some(packages),
            delivery: (kind == DecisionKind::Approve).then_some(Delivery::Kelurahan),
            decided_at: r.created_at + Duration::hours(hours),
            decided_by: ActorRef::system(),
        });
        r
    }

    #[test]
    fn the_tally_counts_by_status_category_urgency_flag_and_kelurahan() {
        let period = Period {
            from: day("2026-12-01"),
            to: day("2026-12-04"),
        };
        let b = "32.75.03.1004";
        let a = "32.75.01.1001";
        let mut rs = vec![
            request(1, b, Status::Submitted, "2026-12-01T01:00:00Z"),
            decided(
                request(2, a, Status::Allocated, "2026-12-01T02:00:00Z"),
                DecisionKind::Approve,
                10,
                2,
            ),
            decided(
                request(3, a, Status::Rejected, "2026-12-02T02:00:00Z"),
                DecisionKind::Reject,
                30,
                0,
            ),
            decided(
                request(4, a, Status::Delivered, "2026-12-02T03:00:00Z"),
                DecisionKind::Approve,
                20,
                1,
            ),
            // Approved, then cancelled: decided, but its packages no longer go out.
            decided(
                request(5, b, Status::Cancelled, "2026-12-03T03:00:00Z"),
                DecisionKind::Approve,
                41,
                3,
            ),
        ];
        rs[0].category = Category::RentanMiskin;
        rs[0].urgency = Urgency::Biasa;
        rs[0].flags = vec![Flag::NotInRegistry];
        rs[1].flags = vec![Flag::DesilAboveTarget, Flag::CooldownOverride];
        rs[2].flags = vec![Flag::NotInRegistry, Flag::NotInRegistry];
        let mut t = Tally::new();
        for r in &rs {
            t.add(r);
        }
        let at: DateTime<Utc> = "2026-12-04T05:00:00Z".parse().unwrap();
        let s = t.finish(period, at);
        assert_eq!(s.total, 5);
        assert_eq!(
            s.by_status,
            StatusCounts {
                submitted: 1,
                rejected: 1,
                allocated: 1,
                delivered: 1,
                cancelled: 1,
                ..StatusCounts::default()
            }
        );
        assert_eq!(
            s.by_category,
            CategoryCounts {
                miskin_ekstrem: 4,
                rentan_miskin: 1
            }
        );
        assert_eq!(
            s.by_urgency,
            UrgencyCounts {
                darurat: 4,
                biasa: 1
            }
        );
        assert_eq!(
            s.flags,
            FlagCounts {
                not_in_registry: 2,
                desil_above_target: 1,
                cooldown_override: 1
            }
        );
        assert_eq!(
            s.packages_approved, 3,
            "2 allocated + 1 delivered, not the cancelled 3"
        );
        // 10, 20, 30, 41 hours: the median is 25.
        assert_eq!(
            s.decision_time,
            DecisionTime {
                decided: 4,
                median_hours: Some(25.0)
            }
        );
        let kel: Vec<_> = s
            .by_kelurahan
            .iter()
            .map(|k| (k.kelurahan_code.as_str(), k.kelurahan.as_str(), k.total))
            .collect();
        assert_eq!(
            kel,
            [
                (a, "Bekasijaya", 3),
                (b, crate::KelurahanCode::parse(b).unwrap().name(), 2)
            ],
            "by code"
        );
        assert_eq!(s.by_kelurahan[0].kecamatan, "Bekasi Timur");
        assert_eq!(s.by_kelurahan[1].by_status.cancelled, 1);
        assert_eq!(s.by_kelurahan[1].by_status.submitted, 1);
        let sum: u64 = s.by_kelurahan.iter().map(|k| k.total).sum();
        assert_eq!(sum, s.total);
    }

    #[test]
    fn median_hours_odd_even_and_none() {
        assert_eq!(median_hours(&mut []), None);
        assert_eq!(median_hours(&mut [7200]), Some(2.0));
        assert_eq!(median_hours(&mut [3600 * 5, 60, 3600 * 3]), Some(3.0));
        // 90 min and 2 h: 1.75 h, rounded to one decimal.
        assert_eq!(median_hours(&mut [5400, 7200]), Some(1.8));
    }

    #[test]
    fn the_json_has_every_status_in_order_and_no_personal_data() {
        let period = Period {
            from: day("2026-12-01"),
            to: day("2026-12-04"),
        };
        let r = request(
            1,
            "32.75.01.1001",
            Status::Submitted,
            "2026-12-02T01:00:00Z",
        );
        let mut t = Tally::new();
        t.add(&r);
        let s = t.finish(period, "2026-12-04T05:00:00Z".parse().unwrap());
        let json = serde_json::to_string(&s).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        // Every status, zeros included, in lifecycle order (`Status::ALL`).
        let expected: Vec<String> = Status::ALL
            .iter()
            .map(|st| {
                format!(
                    "\"{}\":{}",
                    st.as_str(),
                    u64::from(*st == Status::Submitted)
                )
            })
            .collect();
        assert_eq!(
            serde_json::to_string(&s.by_status).unwrap(),
            format!("{{{}}}", expected.join(","))
        );
        assert_eq!(value["from"], "2026-12-01");
        assert_eq!(value["to"], "2026-12-04");
        assert_eq!(value["timezone"], "Asia/Jakarta");
        assert_eq!(value["generated_at"], "2026-12-04T05:00:00Z");
        assert!(value["decision_time"]["median_hours"].is_null());
        let h = &r.household;
        for secret in [
            h.head_nik.as_str(),
            h.kk.as_str(),
            &h.head_name,
            &h.address.street,
            &r.situation,
            &r.reported_by.name,
        ] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(
            !json.contains(&h.head_nik.as_str()[12..]),
            "not even masked"
        );
    }

    #[test]
    fn csv_has_a_row_per_kelurahan_and_a_total_row() {
        let period = Period {
            from: day("2026-12-01"),
            to: day("2026-12-04"),
        };
        let mut t = Tally::new();
        t.add(&request(
            1,
            "32.75.03.1004",
            Status::Submitted,
            "2026-12-02T01:00:00Z",
        ));
        t.add(&request(
            2,
            "32.75.01.1001",
            Status::Rejected,
            "2026-12-02T01:00:00Z",
        ));
        t.add(&request(
            3,
            "32.75.01.1001",
            Status::Submitted,
            "2026-12-02T01:00:00Z",
        ));
        let s = t.finish(period, "2026-12-04T05:00:00Z".parse().unwrap());
        assert_eq!(
            s.csv_filename(),
            "basoka-ringkasan-2026-12-01-2026-12-04.csv"
        );
        let csv = s.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "kelurahan_code,kelurahan,total,submitted,survey_assigned,surveyed,approved,rejected,waitlisted,allocated,dispatched,delivered,cancelled"
        );
        assert_eq!(lines[1], "32.75.01.1001,Bekasijaya,2,1,0,0,0,1,0,0,0,0,0");
        let b = crate::KelurahanCode::parse("32.75.03.1004").unwrap().name();
        assert_eq!(lines[2], format!("32.75.03.1004,{b},1,1,0,0,0,0,0,0,0,0,0"));
        assert_eq!(lines[3], "TOTAL,,3,2,0,0,0,1,0,0,0,0,0");
        assert_eq!(lines[4], "", "the last line ends with CRLF too");
        assert_eq!(lines.len(), 5);
    }

    /// Requests in memory, listed as the stores list them (newest first, pages of `limit`,
    /// the cursor an index into the listing), recording every query it was asked.
    struct Listed {
        requests: Vec<AidRequest>,
        queries: std::sync::Mutex<Vec<ListQuery>>,
    }

    #[async_trait::async_trait]
    impl crate::ports::RequestStore for Listed {
        async fn insert(&self, _: crate::ports::NewRequest) -> Result<(), StoreError> {
            unreachable!("a report never writes")
        }
        async fn update(
            &self,
            _: &AidRequest,
            _: &crate::request::HistoryEntry,
            _: &crate::events::Event,
        ) -> Result<(), StoreError> {
            unreachable!("a report never writes")
        }
        async fn id_by_code(
            &self,
            _: &crate::ids::RequestCode,
        ) -> Result<Option<crate::RequestId>, StoreError> {
            unreachable!()
        }
        async fn get(&self, _: &crate::RequestId) -> Result<Option<AidRequest>, StoreError> {
            unreachable!()
        }
        async fn list(&self, q: &ListQuery) -> Result<Page<AidRequest>, StoreError> {
            self.queries.lock().unwrap().push(q.clone());
            let mut matching: Vec<&AidRequest> = self
                .requests
                .iter()
                .filter(|r| q.created_from.is_none_or(|f| r.created_at >= f))
                .filter(|r| q.created_before.is_none_or(|b| r.created_at < b))
                .collect();
            matching.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            let start: usize = q.cursor.as_deref().map_or(0, |c| c.parse().unwrap());
            let end = (start + q.limit as usize).min(matching.len());
            Ok(Page {
                items: matching[start..end].iter().map(|r| (*r).clone()).collect(),
                next_cursor: (end < matching.len()).then(|| end.to_string()),
            })
        }
        async fn history(
            &self,
            _: &crate::RequestId,
        ) -> Result<Vec<crate::request::HistoryEntry>, StoreError> {
            unreachable!()
        }
        async fn active_for(
            &self,
            _: &crate::Nik,
            _: &crate::Kk,
        ) -> Result<Option<crate::RequestId>, StoreError> {
            unreachable!()
        }
        async fn last_delivery(
            &self,
            _: &crate::Nik,
            _: &crate::Kk,
        ) -> Result<Option<DateTime<Utc>>, StoreError> {
            unreachable!()
        }
    }

    #[async_trait::async_trait]
    impl crate::ports::IdempotencyStore for Listed {
        async fn get(
            &self,
            _: &str,
        ) -> Result<Option<crate::ports::IdempotencyRecord>, StoreError> {
            unreachable!()
        }
    }

    #[async_trait::async_trait]
    impl crate::ports::RegistryStore for Listed {
        async fn lookup(
            &self,
            _: &crate::Nik,
        ) -> Result<Option<crate::registry::RegistryRecord>, StoreError> {
            unreachable!()
        }
        async fn upsert(
            &self,
            _: &[crate::registry::RegistryRecord],
        ) -> Result<crate::ports::ImportCounts, StoreError> {
            unreachable!()
        }
    }

    impl crate::ports::SubmitReads for Listed {}

    fn deps(store: Arc<Listed>, now: &str) -> Deps {
        Deps {
            requests: store.clone(),
            idempotency: store.clone(),
            registry: store.clone(),
            submit_reads: store,
            clock: Arc::new(crate::ports::FrozenClock(now.parse().unwrap())),
            ids: Arc::new(crate::ports::RandomIds),
            policy: crate::policy::Policy::default(),
            catalog: None,
        }
    }

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "user-1".into(),
            name: "Petugas".into(),
            role,
            kelurahan: (role == Role::Kelurahan)
                .then(|| crate::KelurahanCode::parse("32.75.01.1001").unwrap()),
            phone: None,
        }
    }

    #[tokio::test]
    async fn the_use_case_pages_through_the_period_and_counts_every_request_once() {
        // 250 requests on 1 December 2026 (WIB) and one on each side of the period.
        let mut requests = Vec::new();
        for i in 0..250u16 {
            let kel = if i % 5 == 0 {
                "32.75.03.1004"
            } else {
                "32.75.01.1001"
            };
            // Between 00:00 and 23:59 WIB of 1 December: 30 Nov 17:00 UTC plus i × 5 min.
            let t = "2026-11-30T17:00:00Z".parse::<DateTime<Utc>>().unwrap()
                + Duration::minutes(i64::from(i) * 5);
            let status = if i % 2 == 0 {
                Status::Submitted
            } else {
                Status::Rejected
            };
            requests.push(request(i + 1, kel, status, &t.to_rfc3339()));
        }
        requests.push(request(
            900,
            "32.75.01.1001",
            Status::Submitted,
            "2026-11-30T16:59:59Z",
        ));
        requests.push(request(
            901,
            "32.75.01.1001",
            Status::Submitted,
            "2026-12-04T17:00:00Z",
        ));
        let store = Arc::new(Listed {
            requests,
            queries: Default::default(),
        });
        // 4 December 23:30 WIB: today is the 4th in Bekasi (the 4th in UTC too).
        let d = deps(store.clone(), "2026-12-04T16:30:00Z");
        let p = params(Some("2026-12-01"), None);
        let s = summary(&d, &caller(Role::Dinas), &p).await.unwrap();
        assert_eq!((s.from, s.to), (day("2026-12-01"), day("2026-12-04")));
        assert_eq!(s.total, 250, "neither the request before nor the one after");
        assert_eq!(s.by_status.submitted, 125);
        assert_eq!(s.by_status.rejected, 125);
        assert_eq!(s.by_kelurahan.len(), 2);
        assert_eq!(s.by_kelurahan[1].total, 50);
        assert_eq!(s.generated_at, d.clock.now());
        let queries = store.queries.lock().unwrap().clone();
        assert_eq!(queries.len(), 3, "pages of {PAGE}: 100, 100, 50");
        for q in &queries {
            assert_eq!(
                q.created_from,
                Some("2026-11-30T17:00:00Z".parse().unwrap())
            );
            assert_eq!(
                q.created_before,
                Some("2026-12-04T17:00:00Z".parse().unwrap())
            );
            assert_eq!((q.kelurahan, q.status, q.limit), (None, None, PAGE));
        }

        // Every role but the Dinas is refused, before the parameters are even read.
        for role in [Role::Kelurahan, Role::Surveyor, Role::Gudang] {
            let bad = params(Some("x"), None);
            assert_eq!(
                summary(&d, &caller(role), &bad).await.unwrap_err(),
                AppError::Forbidden,
                "{role:?}"
            );
        }
        // Bad parameters: 400 naming both, before the store is asked.
        let before = store.queries.lock().unwrap().len();
        let bad = params(Some("x"), Some("2026-02-31"));
        match summary(&d, &caller(Role::Dinas), &bad).await {
            Err(AppError::Validation(e)) => {
                assert_eq!(
                    fields(&e),
                    [("from", "DATE_INVALID"), ("to", "DATE_INVALID")]
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.queries.lock().unwrap().len(), before);
    }

    #[test]
    fn csv_quotes_fields_with_commas_and_quotes() {
        let s = Summary {
            from: day("2026-12-01"),
            to: day("2026-12-01"),
            timezone: TIMEZONE,
            generated_at: "2026-12-04T05:00:00Z".parse().unwrap(),
            total: 1,
            by_status: StatusCounts::default(),
            by_category: CategoryCounts::default(),
            by_urgency: UrgencyCounts::default(),
            flags: FlagCounts::default(),
            packages_approved: 0,
            decision_time: DecisionTime::default(),
            by_kelurahan: vec![KelurahanSummary {
                kelurahan_code: "32.75.01.1001".into(),
                kelurahan: "Jaya, \"Baru\"".into(),
                kecamatan: "X".into(),
                total: 1,
                by_status: StatusCounts::default(),
            }],
        };
        let csv = s.to_csv();
        assert!(
            csv.contains("32.75.01.1001,\"Jaya, \"\"Baru\"\"\",1,"),
            "{csv}"
        );
    }
}
