//! How values are written into and read back from SQLite: times as fixed-width RFC 3339 text,
//! aggregates as JSON, dates as `YYYY-MM-DD`, list cursors as opaque URL-safe base64, household
//! guard keys.
//!
//! Decoding failures never quote the data they failed on (stored rows hold full NIK and KK).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::ports::StoreError;
use shared::{Kk, Nik, RequestId};

/// UTC, nine fractional digits, `Z`: every stored time has the same width, so comparing the
/// text compares the times, and nothing is rounded away.
pub(crate) fn time_to_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn time_from_text(what: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Unavailable(format!("stored {what} is not an RFC 3339 time")))
}

/// `YYYY-MM-DD`: text order is date order.
pub(crate) fn date_to_text(d: &NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn date_from_text(what: &str, s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| StoreError::Unavailable(format!("stored {what} is not a YYYY-MM-DD date")))
}

pub(crate) fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Unavailable(format!("{what} cannot be serialised")))
}

/// Parses stored JSON. The error names the kind of problem and where, never the value:
/// serde's own message may quote it.
pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| {
        StoreError::Unavailable(format!(
            "stored {what} is unreadable ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

pub(crate) fn request_id(s: String) -> Result<RequestId, StoreError> {
    RequestId::parse(&s).map_err(|_| StoreError::Unavailable("stored request id is invalid".into()))
}

/// The guard key of a head NIK.
pub(crate) fn nik_key(nik: &Nik) -> String {
    format!("nik:{}", nik.as_str())
}

/// The guard key of a KK.
pub(crate) fn kk_key(kk: &Kk) -> String {
    format!("kk:{}", kk.as_str())
}

/// Which listing a cursor was handed out by: a cursor of one listing is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    Requests,
    Shipments,
}

impl Listing {
    /// Marks the listing and the cursor format, so that a later format can tell old cursors
    /// apart.
    fn prefix(self) -> &'static str {
        match self {
            Listing::Requests => "r1",
            Listing::Shipments => "s1",
        }
    }

    /// Whether `id` can be an id of this listing's records.
    fn id_ok(self, id: &str) -> bool {
        match self {
            Listing::Requests => RequestId::parse(id).is_ok(),
            // Shipment ids are UUIDv7 strings; accept any short plain id.
            Listing::Shipments => {
                !id.is_empty()
                    && id.len() <= 64
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }
        }
    }
}

/// Where a page ends: the last item's stored `created_at` text and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub listing: Listing,
    pub created_at: String,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}",
            self.listing.prefix(),
            self.created_at,
            self.id
        ))
    }

    /// Only what [`Cursor::encode`] produced for `listing`: a well-formed stored time and an
    /// id of that listing.
    pub fn decode(listing: Listing, raw: &str) -> Result<Cursor, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| StoreError::InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = text.splitn(3, '|');
        let (Some(prefix), Some(created_at), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::InvalidCursor);
        };
        if prefix != listing.prefix() || !listing.id_ok(id) {
            return Err(StoreError::InvalidCursor);
        }
        let t = DateTime::parse_from_rfc3339(created_at).map_err(|_| StoreError::InvalidCursor)?;
        if time_to_text(&t.with_timezone(&Utc)) != created_at {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Cursor {
            listing,
            created_at: created_at.to_string(),
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_fixed_width_and_round_trip() {
        let a: DateTime<Utc> = "2026-03-01T08:00:00Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-03-01T08:00:00.5Z".parse().unwrap();
        let c: DateTime<Utc> = "2026-03-01T08:00:00.123456789Z".parse().unwrap();
        assert_eq!(time_to_text(&a), "2026-03-01T08:00:00.000000000Z");
        assert_eq!(time_to_text(&b), "2026-03-01T08:00:00.500000000Z");
        assert!(time_to_text(&a) < time_to_text(&b));
        assert!(time_to_text(&b) > time_to_text(&c));
        for t in [a, b, c] {
            assert_eq!(time_from_text("t", &time_to_text(&t)).unwrap(), t);
        }
    }

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let c = Cursor {
            listing: Listing::Requests,
            created_at: "2026-03-01T08:00:00.000000000Z".into(),
            id: RequestId::new().to_string(),
        };
        let raw = c.encode();
        assert!(
            raw.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
            "{raw}"
        );
        assert_eq!(Cursor::decode(Listing::Requests, &raw).unwrap(), c);
        assert_eq!(
            Cursor::decode(Listing::Shipments, &raw),
            Err(StoreError::InvalidCursor),
            "a request cursor is not a shipment cursor"
        );
        let s = Cursor {
            listing: Listing::Shipments,
            ..c.clone()
        };
        assert_eq!(Cursor::decode(Listing::Shipments, &s.encode()).unwrap(), s);
        assert_eq!(
            Cursor::decode(Listing::Requests, &s.encode()),
            Err(StoreError::InvalidCursor),
            "a shipment cursor is not a request cursor"
        );
        for bad in [
            "",
            "not a cursor",
            "%%%",
            &URL_SAFE_NO_PAD.encode("r1|yesterday|x"),
            &URL_SAFE_NO_PAD.encode(format!("r2|{}|{}", c.created_at, c.id)),
            &URL_SAFE_NO_PAD.encode(format!("r1|2026-03-01T08:00:00Z|{}", c.id)),
            &URL_SAFE_NO_PAD.encode(format!("r1|{}|../etc", c.created_at)),
        ] {
            assert_eq!(
                Cursor::decode(Listing::Requests, bad),
                Err(StoreError::InvalidCursor),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_errors_do_not_quote_the_data() {
        let err = from_json::<u32>("request", "\"3275014101900003\"").unwrap_err();
        let StoreError::Unavailable(msg) = err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert!(!msg.contains("3275014101900003"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
    }
}
