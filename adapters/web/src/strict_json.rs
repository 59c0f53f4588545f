//! JSON bodies read strictly: a member name given twice in one object is found and named.
//!
//! `serde_json::Value` keeps the last of two equal names without a word, so
//! `{"head_nik": "3275…", "head_nik": "3276…"}` would be taken as the second NIK while the
//! client (or the person who pasted it together) may have meant the first. RFC 8259 §4 leaves
//! such objects to the implementation; BASOKA refuses them, naming every repeated member by its
//! path (`household.head_nik`, `lines[1].sku`), like any other bad field.
//!
//! The body is built in the same single pass as `serde_json::from_slice::<Value>` (same
//! numbers, same nesting limit); a member's path is only spelt out when it is repeated.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// What strict reading found: the document (of a repeated member, the last value) and the
/// members its objects repeat (paths, in document order, each once; empty for a sound one).
pub struct Strict {
    pub value: Value,
    pub repeated: Vec<String>,
}

/// Reads `bytes` as one JSON document; `Err` when it is not JSON.
pub fn parse(bytes: &[u8]) -> Result<Strict, serde_json::Error> {
    let repeated = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Node {
        at: None,
        repeated: &repeated,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(Strict {
        value,
        repeated: repeated.into_inner(),
    })
}

/// One step of a path: a member name or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Where a value sits: its step and its parent's place (`None` at the top).
struct Place<'a> {
    parent: Option<&'a Place<'a>>,
    step: Step<'a>,
}

impl Place<'_> {
    /// `household.head_nik`, `lines[1].sku`.
    fn path(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            steps.push(&p.step);
            at = p.parent;
        }
        let mut out = String::new();
        for step in steps.into_iter().rev() {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// A value to read at `at`, reporting repeated members into `repeated`.
struct Node<'a> {
    at: Option<&'a Place<'a>>,
    repeated: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own `Value` does (JSON text has no NaN or infinity to give).
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let place = Place {
                parent: self.at,
                step: Step::Index(out.len()),
            };
            let node = Node {
                at: Some(&place),
                repeated: self.repeated,
            };
            match seq.next_element_seed(node)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let place = Place {
                parent: self.at,
                step: Step::Key(&key),
            };
            let value = map.next_value_seed(Node {
                at: Some(&place),
                repeated: self.repeated,
            })?;
            if out.contains_key(&key) {
                let path = place.path();
                let mut repeated = self.repeated.borrow_mut();
                if !repeated.contains(&path) {
                    repeated.push(path);
                }
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repeated(text: &str) -> Vec<String> {
        parse(text.as_bytes()).expect("JSON").repeated
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a": 1, "b": [true, null, -3, 2.5, 18446744073709551615, "x"], "c": {"d": {}}}"#,
            r#"[1, [2, [3]]]"#,
            r#""just a string""#,
            "1e400",
        ] {
            let ours = match parse(text.as_bytes()) {
                Ok(Strict { value, repeated }) => {
                    assert!(repeated.is_empty(), "{text}: {repeated:?}");
                    Some(value)
                }
                Err(_) => None,
            };
            assert_eq!(
                ours,
                serde_json::from_slice::<Value>(text.as_bytes()).ok(),
                "{text}"
            );
        }
        assert_eq!(
            parse(br#"{"n": 3, "s": "t"}"#).unwrap().value,
            json!({"n": 3, "s": "t"})
        );
    }

    #[test]
    fn not_json_is_an_error() {
        for text in [&b"{"[..], b"{\"a\": 1} x", b"", b"{\"a\": 1,}"] {
            assert!(parse(text).is_err(), "{}", String::from_utf8_lossy(text));
        }
        // Nesting deeper than serde_json's limit (128) is refused, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn every_repeated_member_is_named_by_its_path_once() {
        assert_eq!(
            repeated(
                r#"{"household": {"head_nik": "1", "kk": "2", "head_nik": "3", "head_nik": "4"},
                    "lines": [{"sku": "A"}, {"sku": "B", "sku": "C"}],
                    "reason": "x", "reason": "y"}"#
            ),
            ["household.head_nik", "lines[1].sku", "reason"]
        );
        // Equal names in different objects are not repeated.
        assert_eq!(
            repeated(r#"{"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}]}"#),
            Vec::<String>::new()
        );
    }
}
