//! Time as people read it: UTC inside, WIB (UTC+7, no daylight saving) outside.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Western Indonesia Time.
pub fn wib_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// `03-12-2026 14:05 WIB`.
pub fn wib(t: &DateTime<Utc>) -> String {
    t.with_timezone(&wib_offset())
        .format("%d-%m-%Y %H:%M WIB")
        .to_string()
}

/// The day in Bekasi (WIB) at instant `t`.
pub fn wib_date(t: &DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&wib_offset()).date_naive()
}

/// The instant a day in Bekasi begins: `day` 00:00 WIB, which is 17:00 UTC the day before.
pub fn wib_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(wib_offset())
        .single()
        .expect("a fixed offset has one midnight")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wib_day_begins_at_17_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let start = wib_midnight(day);
        assert_eq!(start.to_rfc3339(), "2026-12-04T17:00:00+00:00");
        assert_eq!(wib_date(&start), day);
        assert_eq!(
            wib_date(&(start - chrono::Duration::nanoseconds(1))),
            day.pred_opt().unwrap()
        );
    }

    #[test]
    fn wib_is_utc_plus_seven() {
        let t: DateTime<Utc> = "2026-12-03T20:30:00Z".parse().unwrap();
        assert_eq!(wib(&t), "04-12-2026 03:30 WIB");
    }
}
