//! Time as people read it: UTC inside, WIB (UTC+7, no daylight saving) outside.

use chrono::{DateTime, FixedOffset, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wib_is_utc_plus_seven() {
        let t: DateTime<Utc> = "2026-12-03T20:30:00Z".parse().unwrap();
        assert_eq!(wib(&t), "04-12-2026 03:30 WIB");
    }
}
