//! Item keys of the single table, the keyed hash that stands in for NIK and KK in every key,
//! and the fixed-width time text that makes sort keys sort by time.
//!
//! A NIK or KK never appears in a key or an index key: household guards, delivery records and
//! registry rows are keyed by `HMAC-SHA256(BASOKA_HASH_KEY, "nik:" + NIK)` (or `"kk:"`), in
//! lower-case hex. Without the secret the 16-digit numbers cannot be recovered by trying all
//! of them (about 10^16 candidates, a few hours of plain SHA-256 on one GPU), which is why the
//! hash is keyed. The domain prefix keeps a NIK and a KK with the same digits apart.

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::ports::StoreError;
use shared::{Kk, Nik, RequestId};

/// Computes household keys. The secret never leaves it (its `Debug` is redacted).
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<secret>)")
    }
}

impl KeyHasher {
    pub fn new(secret: &[u8]) -> KeyHasher {
        KeyHasher {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    fn hash(&self, domain: &str, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The keyed hash of a head NIK (64 hex digits).
    pub fn nik(&self, nik: &Nik) -> String {
        self.hash("nik", nik.as_str())
    }

    /// The keyed hash of a KK number (64 hex digits).
    pub fn kk(&self, kk: &Kk) -> String {
        self.hash("kk", kk.as_str())
    }
}

/// UTC, nine fractional digits, `Z` (`2026-03-01T01:00:00.000000000Z`): every stored time has
/// the same width, so comparing the text compares the times.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub fn time_from_text(what: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Unavailable(format!("stored {what} is not an RFC 3339 time")))
}

/// Whether `s` is exactly what [`time_text`] writes.
pub fn is_time_text(s: &str) -> bool {
    DateTime::parse_from_rfc3339(s).is_ok_and(|t| time_text(&t.with_timezone(&Utc)) == s)
}

/// A sort key that sorts by time, then by id: `<time_text>#<id>`.
pub fn time_id(t: &DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", time_text(t))
}

/// Zero-padded so that text order is number order.
pub fn padded(n: u64) -> String {
    format!("{n:020}")
}

// --- partition and sort keys ------------------------------------------------------------------

pub const PK: &str = "PK";
pub const SK: &str = "SK";

pub fn request_pk(id: &RequestId) -> String {
    format!("REQ#{}", id.as_str())
}
pub const REQUEST_SK: &str = "REQ";
pub const ALLOCATION_SK: &str = "ALLOC";
pub const HISTORY_PREFIX: &str = "HIST#";
pub fn history_sk(version: u64) -> String {
    format!("{HISTORY_PREFIX}{version:010}")
}

pub fn code_pk(code: &str) -> String {
    format!("CODE#{code}")
}
pub const CODE_SK: &str = "CODE";

pub fn guard_nik_pk(h: &KeyHasher, nik: &Nik) -> String {
    format!("ACTIVE#NIK#{}", h.nik(nik))
}
pub fn guard_kk_pk(h: &KeyHasher, kk: &Kk) -> String {
    format!("ACTIVE#KK#{}", h.kk(kk))
}
pub const GUARD_SK: &str = "ACTIVE";

pub fn delivery_nik_pk(h: &KeyHasher, nik: &Nik) -> String {
    format!("DELIV#NIK#{}", h.nik(nik))
}
pub fn delivery_kk_pk(h: &KeyHasher, kk: &Kk) -> String {
    format!("DELIV#KK#{}", h.kk(kk))
}

pub fn idempotency_pk(key: &str) -> String {
    format!("IDEM#{key}")
}
pub const IDEMPOTENCY_SK: &str = "IDEM";

pub fn registry_pk(h: &KeyHasher, nik: &Nik) -> String {
    format!("REG#{}", h.nik(nik))
}
pub const REGISTRY_SK: &str = "REG";

/// Outbox items as the state changes write them (one partition, sort key = event id).
pub const OUTBOX_NEW_PK: &str = "OUTBOX#NEW";
/// Outbox items after the sequencer gave them a position (sort key = padded position).
pub const OUTBOX_LOG_PK: &str = "OUTBOX#LOG";
pub const OUTBOX_SEQ_PK: &str = "OUTBOX#SEQ";
pub const OUTBOX_SEQ_SK: &str = "SEQ";
pub fn consumer_pk(consumer: &str) -> String {
    format!("OUTBOX#CONSUMER#{consumer}")
}
pub const CONSUMER_SK: &str = "OFFSET";

pub const CATALOG_PK: &str = "CATALOG";
pub const ITEM_PREFIX: &str = "ITEM#";
pub const PACKAGE_PREFIX: &str = "PACKAGE#";
pub const USED_PREFIX: &str = "USED#";
pub const CATALOG_VERSION_SK: &str = "VERSION";

pub fn stock_pk(warehouse: &str) -> String {
    format!("STOCK#{warehouse}")
}
pub fn lot_prefix(sku: &str) -> String {
    format!("LOT#{sku}#")
}
pub fn lot_sk(sku: &str, lot_id: &str) -> String {
    format!("LOT#{sku}#{lot_id}")
}
/// The mark of an item alerted as low (under [`stock_pk`]; outside the `LOT#` prefix).
pub fn low_stock_sk(sku: &str) -> String {
    format!("LOW#{sku}")
}
pub fn ledger_pk(warehouse: &str, sku: &str) -> String {
    format!("LEDGER#{warehouse}#{sku}")
}

/// The delivery note `reference_key` (`shared::fulfilment_ports::reference_key`) of a
/// warehouse: its SHA-256 in lower-case hex, so that any reference (up to 100 characters of
/// any script) makes a short key of safe characters. Not keyed like household keys: a
/// delivery note number is no secret, and the guard must outlive any change of the secret.
pub fn receipt_ref_pk(warehouse: &str, reference_key: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(reference_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("RCPT#{warehouse}#{hex}")
}
pub const RECEIPT_REF_SK: &str = "RCPT";

pub fn shipment_pk(id: &str) -> String {
    format!("SHIP#{id}")
}
pub const SHIPMENT_SK: &str = "SHIP";

pub fn notification_pk(event_id: &str) -> String {
    format!("NOTIF#{event_id}")
}
pub fn notification_sk(recipient: &str) -> String {
    format!("TO#{recipient}")
}
/// The retry index partition of failed notifications with `attempts` attempts so far.
pub fn failed_notifications_pk(attempts: u32) -> String {
    format!("NOTIF#FAILED#{attempts}")
}
/// The retry index partition of pending claims (leases), oldest first: the sweep reads the
/// range older than a lease. Small: a claim leaves it as soon as its outcome is recorded.
pub const PENDING_NOTIFICATIONS_PK: &str = "NOTIF#PENDING";

pub fn contact_pk(sub: &str) -> String {
    format!("STAFF#{sub}")
}
pub const CONTACT_SK: &str = "CONTACT";

// --- index partition values ---------------------------------------------------------------------

pub fn by_kelurahan_status(kel: &str, status: &str) -> String {
    format!("REQ#KEL#{kel}#ST#{status}")
}
pub fn by_status(status: &str) -> String {
    format!("REQ#ST#{status}")
}
pub fn by_kelurahan(kel: &str) -> String {
    format!("REQ#KEL#{kel}")
}
pub const ALL_REQUESTS: &str = "REQ";
pub fn shipments_by_status(status: &str) -> String {
    format!("SHIP#ST#{status}")
}
pub const ALL_SHIPMENTS: &str = "SHIP";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn household_keys_are_keyed_hashes_never_the_number() {
        let nik = Nik::parse("3275014101900003").unwrap();
        let kk = Kk::parse("3275014101900003").unwrap();
        let a = KeyHasher::new(b"secret-a-0123456789abcdef0123456789");
        let b = KeyHasher::new(b"secret-b-0123456789abcdef0123456789");
        for key in [
            guard_nik_pk(&a, &nik),
            guard_kk_pk(&a, &kk),
            delivery_nik_pk(&a, &nik),
            registry_pk(&a, &nik),
        ] {
            assert!(!key.contains("3275014101900003"), "{key}");
            assert!(!key.contains("32750141"), "{key}");
        }
        assert_eq!(a.nik(&nik).len(), 64);
        assert_ne!(
            a.nik(&nik),
            a.kk(&kk),
            "NIK and KK with the same digits differ"
        );
        assert_ne!(a.nik(&nik), b.nik(&nik), "another secret, another key");
        assert_eq!(a.nik(&nik), a.clone().nik(&nik), "stable");
        assert_eq!(format!("{a:?}"), "KeyHasher(<secret>)");
    }

    #[test]
    fn receipt_ref_keys_are_short_hashes_of_the_folded_reference_per_warehouse() {
        let a = receipt_ref_pk("GUDANG-DINSOS-BKS", "do-2026-12-0042");
        assert!(a.starts_with("RCPT#GUDANG-DINSOS-BKS#"), "{a}");
        assert_eq!(a.len(), "RCPT#GUDANG-DINSOS-BKS#".len() + 64);
        assert!(!a.contains("0042"), "{a}");
        assert_eq!(a, receipt_ref_pk("GUDANG-DINSOS-BKS", "do-2026-12-0042"));
        assert_ne!(a, receipt_ref_pk("GUDANG-CADANGAN", "do-2026-12-0042"));
        assert_ne!(a, receipt_ref_pk("GUDANG-DINSOS-BKS", "do-2026-12-0043"));
    }

    #[test]
    fn time_text_has_fixed_width_and_sorts() {
        let a: DateTime<Utc> = "2026-03-01T08:00:00Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-03-01T08:00:00.5Z".parse().unwrap();
        assert_eq!(time_text(&a), "2026-03-01T08:00:00.000000000Z");
        assert!(time_text(&a) < time_text(&b));
        assert!(is_time_text(&time_text(&b)));
        assert!(!is_time_text("2026-03-01T08:00:00Z"));
        assert_eq!(time_from_text("t", &time_text(&b)).unwrap(), b);
        assert!(padded(9) < padded(10));
    }
}
