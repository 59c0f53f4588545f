//! Identifiers: the request id (a UUIDv7, sortable by time), the short human request code
//! that fits an SMS and reads over the phone, and event ids.

use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::Invalid;

/// A request's id, e.g. `0193b2d5-7c1e-7d2a-9f8e-3b1c2d4e5f60`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct RequestId(String);

impl RequestId {
    pub fn new() -> RequestId {
        RequestId(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts only the canonical hyphenated UUID form, so that a bad path segment is a clean
    /// 404 and never reaches a store key.
    pub fn parse(raw: &str) -> Result<RequestId, Invalid> {
        match uuid::Uuid::try_parse(raw) {
            Ok(u) if u.hyphenated().to_string() == raw => Ok(RequestId(raw.to_string())),
            _ => Err(Invalid::new(
                "REQUEST_ID_INVALID",
                "ID permohonan tidak sah.",
                "Invalid request id.",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Crockford base32 without the letters people confuse (I, L, O, U).
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A request's human code, `BSK-` and six characters, e.g. `BSK-7K3M9Q`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "BSK-7K3M9Q")]
pub struct RequestCode(String);

impl RequestCode {
    pub fn random() -> RequestCode {
        let mut rng = rand::rng();
        let body: String = (0..6)
            .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
            .collect();
        RequestCode(format!("BSK-{body}"))
    }

    /// A code as a person reads or types it: case and spaces do not matter, the prefix may
    /// be left out (`7k3m9q`), and the letters the alphabet leaves out because they look
    /// like digits are read as those digits (O as 0, I and L as 1), as Crockford's base 32
    /// does. `None` if it cannot be a code.
    pub fn parse(raw: &str) -> Option<RequestCode> {
        let mut s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if let Some(rest) = s.strip_prefix("BSK-").or_else(|| s.strip_prefix("BSK")) {
            s = rest.to_string();
        }
        let body: String = s
            .chars()
            .map(|c| match c {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        (body.len() == 6 && body.bytes().all(|b| CODE_ALPHABET.contains(&b)))
            .then(|| RequestCode(format!("BSK-{body}")))
    }

    pub fn from_stored(raw: String) -> RequestCode {
        RequestCode(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event's id: consumers are idempotent on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct EventId(String);

impl EventId {
    pub fn new() -> EventId {
        EventId(uuid::Uuid::now_v7().to_string())
    }

    pub fn from_stored(raw: String) -> EventId {
        EventId(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_and_unambiguous() {
        for _ in 0..200 {
            let c = RequestCode::random();
            assert_eq!(c.as_str().len(), 10);
            assert!(c.as_str().starts_with("BSK-"));
            assert!(!c.as_str()[4..].contains(['I', 'L', 'O', 'U']));
        }
    }

    #[test]
    fn request_ids_parse_only_canonical_uuids() {
        let id = RequestId::new();
        assert_eq!(RequestId::parse(id.as_str()).unwrap(), id);
        assert!(RequestId::parse("../etc/passwd").is_err());
        assert!(RequestId::parse(&id.as_str().to_uppercase()).is_err());
    }
}

#[cfg(test)]
mod code_tests {
    use super::RequestCode;

    #[test]
    fn codes_are_read_as_people_type_them() {
        for typed in [
            "BSK-7K3M9Q",
            "bsk-7k3m9q",
            " BSK-7K3M 9Q ",
            "7K3M9Q",
            "bsk7k3m9q",
        ] {
            assert_eq!(
                RequestCode::parse(typed).map(|c| c.as_str().to_string()),
                Some("BSK-7K3M9Q".to_string()),
                "{typed:?}"
            );
        }
        // Letters that look like digits are those digits.
        assert_eq!(
            RequestCode::parse("BSK-O1IL0Z").map(|c| c.as_str().to_string()),
            Some("BSK-01110Z".to_string())
        );
        for not_a_code in [
            "",
            "BSK-",
            "BSK-7K3M9",
            "BSK-7K3M9QQ",
            "BSK-7K3M9U",
            "0193a0c4-0000-7000-8000-00000000abcd",
            "XYZ-7K3M9Q",
        ] {
            assert_eq!(RequestCode::parse(not_a_code), None, "{not_a_code:?}");
        }
        // A random code reads back as itself.
        for _ in 0..100 {
            let c = RequestCode::random();
            assert_eq!(RequestCode::parse(c.as_str()), Some(c));
        }
    }
}
