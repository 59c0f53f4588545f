//! How values become DynamoDB attributes and back: records as JSON in a `data` attribute
//! (plus the plain attributes that keys, conditions and the stream filter need), numbers as
//! `N`, and list cursors as opaque URL-safe base64 of the last item's key.
//!
//! Decoding failures never quote the data they failed on (stored records hold full NIK and
//! KK): they name the attribute and the kind of problem only.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::ports::StoreError;

use crate::keys::{PK, SK, is_time_text};
use crate::table::Index;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The attribute that holds a record as JSON.
pub const DATA: &str = "data";
/// The attribute naming what kind of record an item is (`request`, `outbox`, …).
pub const ENTITY: &str = "entity";

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item with its table key and entity set.
pub fn item(pk: impl Into<String>, sk: impl Into<String>, entity: &str) -> Item {
    let mut i = Item::new();
    i.insert(PK.into(), s(pk));
    i.insert(SK.into(), s(sk));
    i.insert(ENTITY.into(), s(entity));
    i
}

/// The table key of an item.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    let mut i = Item::new();
    i.insert(PK.into(), s(pk));
    i.insert(SK.into(), s(sk));
    i
}

fn corrupt(what: &str, attr: &str) -> StoreError {
    StoreError::Unavailable(format!("stored {what} has no valid {attr} attribute"))
}

pub fn get_s<'a>(item: &'a Item, attr: &str, what: &str) -> Result<&'a str, StoreError> {
    match item.get(attr) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(corrupt(what, attr)),
    }
}

pub fn opt_s<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub fn get_n<T: std::str::FromStr>(item: &Item, attr: &str, what: &str) -> Result<T, StoreError> {
    match item.get(attr) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(what, attr)),
        _ => Err(corrupt(what, attr)),
    }
}

pub fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Unavailable(format!("{what} cannot be serialised")))
}

/// Parses stored JSON. The error names the kind of problem and where, never the value.
pub fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| {
        StoreError::Unavailable(format!(
            "stored {what} is unreadable ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// The record in an item's `data` attribute.
pub fn data<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    from_json(what, get_s(item, DATA, what)?)
}

// --- cursors --------------------------------------------------------------------------------------

/// What a cursor of one listing must look like: which index, which partition of it, and the
/// table key shape of the records listed.
#[derive(Debug, Clone)]
pub struct CursorShape<'a> {
    pub index: Index,
    pub partition: &'a str,
    /// The table partition key is `<pk_prefix><id>`.
    pub pk_prefix: &'a str,
    pub sk: &'a str,
    /// Whether an id is one this listing can hand out.
    pub valid_id: fn(&str) -> bool,
}

/// A page ends at `last`: the cursor is its key in the listing's index (what DynamoDB returns
/// as `LastEvaluatedKey`), as base64url of a JSON object.
pub fn encode_cursor(last: &Item, index: Index) -> Result<String, StoreError> {
    let mut map = serde_json::Map::new();
    for attr in [PK, SK, index.pk(), index.sk()] {
        let v = get_s(last, attr, "listed record")?;
        map.insert(attr.to_string(), serde_json::Value::String(v.to_string()));
    }
    Ok(URL_SAFE_NO_PAD.encode(serde_json::Value::Object(map).to_string()))
}

/// Only what [`encode_cursor`] produced for this very listing: the exact four key attributes,
/// the listing's own index partition, a well-formed record key and sort key.
pub fn decode_cursor(raw: &str, shape: &CursorShape<'_>) -> Result<Item, StoreError> {
    let bad = || StoreError::InvalidCursor;
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let map = value.as_object().ok_or_else(bad)?;
    let attrs = [PK, SK, shape.index.pk(), shape.index.sk()];
    if map.len() != attrs.len() {
        return Err(bad());
    }
    let get = |attr: &str| map.get(attr).and_then(|v| v.as_str()).ok_or_else(bad);
    let (pk, sk) = (get(PK)?, get(SK)?);
    let (ipk, isk) = (get(shape.index.pk())?, get(shape.index.sk())?);
    let id = pk.strip_prefix(shape.pk_prefix).ok_or_else(bad)?;
    if !(shape.valid_id)(id) || sk != shape.sk || ipk != shape.partition {
        return Err(bad());
    }
    let (time, sort_id) = isk.split_once('#').ok_or_else(bad)?;
    if !is_time_text(time) || sort_id != id {
        return Err(bad());
    }
    attrs
        .iter()
        .map(|a| Ok((a.to_string(), s(get(a)?))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::time_id;

    fn shape(partition: &str) -> CursorShape<'_> {
        CursorShape {
            index: Index::Created,
            partition,
            pk_prefix: "REQ#",
            sk: "REQ",
            valid_id: |id| shared::RequestId::parse(id).is_ok(),
        }
    }

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let id = shared::RequestId::new();
        let t = "2026-03-01T01:00:00Z".parse().unwrap();
        let mut last = key(format!("REQ#{id}"), "REQ");
        last.insert("GSI4PK".into(), s("REQ"));
        last.insert("GSI4SK".into(), s(time_id(&t, id.as_str())));
        last.insert(DATA.into(), s("{\"secret\":\"3275014101900003\"}"));
        let raw = encode_cursor(&last, Index::Created).unwrap();
        assert!(
            raw.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let back = decode_cursor(&raw, &shape("REQ")).unwrap();
        assert_eq!(back.len(), 4, "only the key travels in a cursor");
        assert_eq!(back["GSI4SK"], last["GSI4SK"]);
        assert_eq!(
            decode_cursor(&raw, &shape("SHIP")).unwrap_err(),
            StoreError::InvalidCursor,
            "a cursor of another listing"
        );
        let forged = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&raw).unwrap()).unwrap();
            f(v.as_object_mut().unwrap());
            URL_SAFE_NO_PAD.encode(v.to_string())
        };
        for bad in [
            "".to_string(),
            "not a cursor!".into(),
            "AAAA".into(),
            "eyJ9".into(),
            forged(&|m| {
                m.insert("GSI4SK".into(), "yesterday#x".into());
            }),
            forged(&|m| {
                m.insert("PK".into(), "REQ#../etc".into());
            }),
            forged(&|m| {
                m.insert("extra".into(), "1".into());
            }),
            forged(&|m| {
                m.insert("SK".into(), 1.into());
            }),
        ] {
            assert_eq!(
                decode_cursor(&bad, &shape("REQ")),
                Err(StoreError::InvalidCursor),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_errors_do_not_quote_the_data() {
        let err = from_json::<u32>("request", "\"3275014101900003\"").unwrap_err();
        assert!(!err.to_string().contains("3275014101900003"), "{err}");
    }
}
