//! Reading a JSON request body field by field, collecting every problem with its path
//! (`household.head_nik`) so the client is told about all bad fields at once.
//!
//! Values are read from a `serde_json::Value` rather than deserialised into a struct, because
//! serde stops at the first error and its messages would echo the offending value (a NIK).
//!
//! Every path a reader asks for is remembered, so that [`Input::finish`] can name the fields
//! the body holds but no reader asked for (`FIELD_UNKNOWN`): a misspelt `overide_reason` is
//! refused with its name instead of being dropped without a word.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::AppError;
use crate::i18n::Text;
use crate::validation::{Errors, FieldError, Invalid};

const REQUIRED: Invalid = Invalid::new("FIELD_REQUIRED", "Wajib diisi.", "Required.");
/// Characters that show nothing (zero-width spaces and joiners, direction marks, the soft
/// hyphen, Hangul and Braille blanks, variation selectors, the byte order mark): copy and
/// paste from chat apps and word processors leaves them around text, and a field holding
/// only these (and spaces) is empty, however it was typed.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

/// A hyphen or dash of any kind (`-`, the Unicode hyphens and dashes, the minus sign, their
/// small and full-width forms): what a reference or a number typed on another keyboard or
/// pasted from a word processor holds where `-` was meant.
pub fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
    )
}

/// Characters refused inside text: control characters other than line breaks and tabs,
/// Unicode line and paragraph separators, the bidirectional embeddings, overrides and
/// isolates (which show text reversed, e.g. a street name or a reason read backwards on the
/// Dinas's screen) and tag characters. None belongs in a name, an address or a reason.
fn is_refused(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
        || ('\u{E0000}'..='\u{E007F}').contains(&c)
}

const NOT_TEXT: Invalid = Invalid::new(
    "FIELD_NOT_STRING",
    "Harus berupa teks (string JSON), bukan angka atau objek.",
    "Must be a JSON string, not a number or an object.",
);
const NOT_INTEGER: Invalid = Invalid::new(
    "FIELD_NOT_INTEGER",
    "Harus bilangan bulat.",
    "Must be a whole number.",
);
const NOT_TIME: Invalid = Invalid::new(
    "FIELD_NOT_TIMESTAMP",
    "Harus waktu RFC 3339, mis. 2026-12-03T09:30:00+07:00.",
    "Must be an RFC 3339 time, e.g. 2026-12-03T09:30:00+07:00.",
);
const NOT_OBJECT: Invalid = Invalid::new(
    "FIELD_NOT_OBJECT",
    "Harus berupa objek JSON.",
    "Must be a JSON object.",
);
const UNKNOWN: Invalid = Invalid::new(
    "FIELD_UNKNOWN",
    "Kolom ini tidak dikenal; periksa ejaannya (daftar kolom: /v1/openapi.json).",
    "Unknown field; check its spelling (the fields are listed in /v1/openapi.json).",
);

/// A body being read.
pub struct Input<'a> {
    root: &'a Value,
    errors: Errors,
    /// Every path asked for (read, or declared with [`Input::known`]).
    asked: Vec<String>,
}

impl<'a> Input<'a> {
    /// The body must be a JSON object.
    pub fn new(root: &'a Value) -> Result<Input<'a>, AppError> {
        if root.is_object() {
            Ok(Input {
                root,
                errors: Errors::new(),
                asked: Vec::new(),
            })
        } else {
            Err(AppError::MalformedBody)
        }
    }

    /// The value at `path`; `None` when absent, null, or under a parent that is not an
    /// object (reported once, at the parent).
    fn lookup(&mut self, path: &str) -> Option<&'a Value> {
        self.walk(path).unwrap_or_default()
    }

    /// Whether `path` is absent because a parent was not an object (already reported).
    fn under_bad_parent(&self, path: &str) -> bool {
        let mut prefix = String::new();
        for part in path.split('.') {
            if !prefix.is_empty() && self.errors.has_field(&prefix) {
                return true;
            }
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
        }
        false
    }

    fn required(&mut self, path: &str) {
        if !self.under_bad_parent(path) {
            self.errors.push(REQUIRED.at(path));
        }
    }

    fn walk(&mut self, path: &str) -> Result<Option<&'a Value>, ()> {
        self.known(path);
        let mut cur = self.root;
        let mut walked = String::new();
        for part in path.split('.') {
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(part);
            // `lines[2]` is the key `lines`, then the element at index 2.
            let (key, index) = match part.split_once('[') {
                Some((key, rest)) => (
                    key,
                    rest.strip_suffix(']').and_then(|n| n.parse::<usize>().ok()),
                ),
                None => (part, None),
            };
            match cur {
                Value::Object(map) => match map.get(key) {
                    Some(Value::Null) | None => return Ok(None),
                    Some(v) => match index {
                        None => cur = v,
                        Some(n) => match v.get(n) {
                            Some(Value::Null) | None => return Ok(None),
                            Some(elem) => cur = elem,
                        },
                    },
                },
                _ => {
                    // A parent that is not an object: report it once, at the parent.
                    let parent = walked
                        .rsplit_once('.')
                        .map(|(p, _)| p)
                        .unwrap_or("")
                        .to_string();
                    if !self.errors_has(&parent) {
                        self.errors.push(NOT_OBJECT.at(parent));
                    }
                    return Err(());
                }
            }
        }
        Ok(Some(cur))
    }

    fn errors_has(&self, field: &str) -> bool {
        self.errors.has_field(field)
    }

    /// Declares `path` a field of this body that the caller reads by other means (e.g. an
    /// array it walks itself), so that [`Input::finish`] does not call it unknown. Its
    /// contents count as known too unless paths below it are asked for.
    pub fn known(&mut self, path: &str) {
        if !self.asked.iter().any(|a| a == path) {
            self.asked.push(path.to_string());
        }
    }

    /// Whether some asked-for path lies below `path` (`path.x` or `path[n]`).
    fn asked_below(&self, path: &str) -> bool {
        self.asked.iter().any(|a| {
            a.strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    /// The fields of `value` (at `path`) that no reader asked for, in key order.
    fn unknown_under(&self, path: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let p = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if self.asked_below(&p) {
                        self.unknown_under(&p, v, out);
                    } else if !self.asked.contains(&p) {
                        out.push(p);
                    }
                }
            }
            Value::Array(items) => {
                for (n, v) in items.iter().enumerate() {
                    let p = format!("{path}[{n}]");
                    if self.asked_below(&p) {
                        self.unknown_under(&p, v, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Records a problem found by the caller.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// A string, trimmed (also of zero-width characters); `max` characters at most. Empty (or
    /// only invisible characters) counts as absent; control characters other than line breaks
    /// and tabs are refused, as they would reach SMS, CSV reports and terminals.
    pub fn text(&mut self, path: &str, max: usize, required: bool) -> Option<String> {
        match self.lookup(path) {
            None => {
                if required {
                    self.required(path);
                }
                None
            }
            Some(Value::String(s)) => {
                let t = s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
                if t.is_empty() {
                    if required {
                        self.required(path);
                    }
                    None
                } else if t.chars().any(is_refused) {
                    self.errors.push(FieldError::new(
                        path,
                        "FIELD_CONTROL_CHARACTER",
                        Text::fixed(
                            "Berisi karakter kendali atau pembalik arah tulisan yang tidak terlihat (mis. dari salin-tempel); ketik ulang isian ini.",
                            "Contains an invisible control or text-direction character (e.g. from copy and paste); type this field again.",
                        ),
                    ));
                    None
                } else if t.chars().count() > max {
                    self.errors.push(FieldError::new(
                        path,
                        "FIELD_TOO_LONG",
                        Text::new(
                            format!("Paling banyak {max} karakter."),
                            format!("At most {max} characters."),
                        ),
                    ));
                    None
                } else {
                    Some(t.to_string())
                }
            }
            Some(_) => {
                self.errors.push(NOT_TEXT.at(path));
                None
            }
        }
    }

    /// A string parsed by `parse` (e.g. `Nik::parse`).
    pub fn parsed<T>(
        &mut self,
        path: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        let raw = self.text(path, 200, required)?;
        self.errors.check(path, parse(&raw))
    }

    /// A whole number within `min..=max`. `2.5` and `"3"` are refused.
    pub fn integer(&mut self, path: &str, min: i64, max: i64, required: bool) -> Option<i64> {
        match self.lookup(path) {
            None => {
                if required {
                    self.required(path);
                }
                None
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (min..=max).contains(&v) => Some(v),
                Some(_) => {
                    self.errors.push(FieldError::new(
                        path,
                        "FIELD_OUT_OF_RANGE",
                        Text::new(
                            format!("Harus antara {min} dan {max}."),
                            format!("Must be between {min} and {max}."),
                        ),
                    ));
                    None
                }
                None => {
                    self.errors.push(NOT_INTEGER.at(path));
                    None
                }
            },
            Some(_) => {
                self.errors.push(NOT_INTEGER.at(path));
                None
            }
        }
    }

    /// A whole number of any size, for readers that check the range themselves (a quantity
    /// of `9223372036854775807` or `1e30` is too large, not "not a whole number"). `2.5` and
    /// `"3"` are refused.
    pub fn whole(&mut self, path: &str, required: bool) -> Option<i128> {
        match self.lookup(path) {
            None => {
                if required {
                    self.required(path);
                }
                None
            }
            Some(Value::Number(n)) => {
                if let Some(v) = n.as_i64() {
                    Some(i128::from(v))
                } else if let Some(v) = n.as_u64() {
                    Some(i128::from(v))
                } else {
                    // Beyond 64 bits serde_json keeps a float: a whole one is just very large
                    // (the cast saturates, which every range check refuses).
                    match n.as_f64() {
                        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.0e18 => {
                            Some(f as i128)
                        }
                        _ => {
                            self.errors.push(NOT_INTEGER.at(path));
                            None
                        }
                    }
                }
            }
            Some(_) => {
                self.errors.push(NOT_INTEGER.at(path));
                None
            }
        }
    }

    /// An RFC 3339 time with an offset, returned in UTC.
    pub fn time(&mut self, path: &str, required: bool) -> Option<DateTime<Utc>> {
        let raw = match self.lookup(path) {
            None => {
                if required {
                    self.required(path);
                }
                return None;
            }
            Some(Value::String(s)) => s.trim(),
            Some(_) => {
                self.errors.push(NOT_TIME.at(path));
                return None;
            }
        };
        match DateTime::parse_from_rfc3339(raw) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.errors.push(NOT_TIME.at(path));
                None
            }
        }
    }

    /// Ends reading: every problem found (fields no reader asked for included), or nothing.
    pub fn finish(mut self) -> Result<(), AppError> {
        let mut unknown = Vec::new();
        self.unknown_under("", self.root, &mut unknown);
        for path in unknown {
            self.errors.push(UNKNOWN.at(path));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors.into_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(err: AppError) -> Vec<(String, &'static str)> {
        match err {
            AppError::Validation(v) => v.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_field_is_reported_with_its_path() {
        let body = json!({"a": {"b": 3, "c": ""}, "n": 2.5, "t": "yesterday"});
        let mut i = Input::new(&body).unwrap();
        assert_eq!(i.text("a.b", 10, true), None);
        assert_eq!(i.text("a.c", 10, true), None);
        assert_eq!(i.text("a.d", 10, false), None);
        assert_eq!(i.integer("n", 0, 10, true), None);
        assert_eq!(i.time("t", true), None);
        assert_eq!(i.text("x.y", 10, true), None);
        let got = fields(i.finish().unwrap_err());
        assert_eq!(
            got,
            vec![
                ("a.b".to_string(), "FIELD_NOT_STRING"),
                ("a.c".to_string(), "FIELD_REQUIRED"),
                ("n".to_string(), "FIELD_NOT_INTEGER"),
                ("t".to_string(), "FIELD_NOT_TIMESTAMP"),
                ("x.y".to_string(), "FIELD_REQUIRED"),
            ]
        );
    }

    #[test]
    fn invisible_characters_are_trimmed_and_control_characters_refused() {
        let body = json!({
            "a": "\u{200B}\u{FEFF} ",
            "b": "\u{FEFF}Siti Aminah\u{200B}",
            "c": "Baris satu\r\nbaris\tdua",
            "d": "Siti\u{0}Aminah",
            "e": "\u{1b}[31mmerah",
            "f": "\u{200E}\u{00AD}\u{3164}\u{2800} \u{200F}",
            "g": "Jl. \u{202E}ijU",
            "h": "baris\u{2028}dua",
            "i": "Mie \u{1F35C}\u{FE0F} pedas"
        });
        let mut i = Input::new(&body).unwrap();
        assert_eq!(i.text("a", 50, true), None);
        assert_eq!(i.text("b", 50, true).as_deref(), Some("Siti Aminah"));
        assert_eq!(
            i.text("c", 50, true).as_deref(),
            Some("Baris satu\r\nbaris\tdua")
        );
        assert_eq!(i.text("d", 50, true), None);
        assert_eq!(i.text("e", 50, false), None);
        assert_eq!(i.text("f", 50, true), None);
        assert_eq!(i.text("g", 50, true), None);
        assert_eq!(i.text("h", 50, true), None);
        assert_eq!(
            i.text("i", 50, true).as_deref(),
            Some("Mie \u{1F35C}\u{FE0F} pedas")
        );
        assert_eq!(
            fields(i.finish().unwrap_err()),
            vec![
                ("a".to_string(), "FIELD_REQUIRED"),
                ("d".to_string(), "FIELD_CONTROL_CHARACTER"),
                ("e".to_string(), "FIELD_CONTROL_CHARACTER"),
                ("f".to_string(), "FIELD_REQUIRED"),
                ("g".to_string(), "FIELD_CONTROL_CHARACTER"),
                ("h".to_string(), "FIELD_CONTROL_CHARACTER"),
            ]
        );
    }

    #[test]
    fn a_parent_that_is_not_an_object_is_reported_once() {
        let body = json!({"household": "oops"});
        let mut i = Input::new(&body).unwrap();
        i.text("household.head_nik", 20, true);
        i.text("household.kk", 20, true);
        let got = fields(i.finish().unwrap_err());
        assert_eq!(got, vec![("household".to_string(), "FIELD_NOT_OBJECT")]);
    }

    #[test]
    fn array_elements_are_read_by_index_and_named_in_errors() {
        let body = json!({"lines": [{"sku": "BERAS", "quantity": 2}, {"quantity": "x"}, 7]});
        let mut i = Input::new(&body).unwrap();
        assert_eq!(i.text("lines[0].sku", 20, true).as_deref(), Some("BERAS"));
        assert_eq!(i.integer("lines[0].quantity", 1, 10, true), Some(2));
        assert_eq!(i.text("lines[1].sku", 20, true), None);
        assert_eq!(i.integer("lines[1].quantity", 1, 10, true), None);
        assert_eq!(i.text("lines[2].sku", 20, true), None);
        let fields: Vec<_> = match i.finish() {
            Err(AppError::Validation(v)) => v.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        };
        assert_eq!(
            fields,
            [
                ("lines[1].sku".to_string(), "FIELD_REQUIRED"),
                ("lines[1].quantity".to_string(), "FIELD_NOT_INTEGER"),
                ("lines[2]".to_string(), "FIELD_NOT_OBJECT"),
            ]
        );
    }

    #[test]
    fn whole_numbers_of_any_size_are_read_and_fractions_refused() {
        let body = json!({"a": 9223372036854775807i64, "b": 18446744073709551615u64, "c": 1e30,
            "d": 2.5, "e": -3, "f": "3"});
        let mut i = Input::new(&body).unwrap();
        assert_eq!(i.whole("a", true), Some(i128::from(i64::MAX)));
        assert_eq!(i.whole("b", true), Some(i128::from(u64::MAX)));
        assert!(i.whole("c", true).is_some_and(|v| v > i128::from(u64::MAX)));
        assert_eq!(i.whole("d", true), None);
        assert_eq!(i.whole("e", true), Some(-3));
        assert_eq!(i.whole("f", true), None);
        assert_eq!(
            fields(i.finish().unwrap_err()),
            vec![
                ("d".to_string(), "FIELD_NOT_INTEGER"),
                ("f".to_string(), "FIELD_NOT_INTEGER")
            ]
        );
    }

    #[test]
    fn fields_no_reader_asked_for_are_named() {
        let body = json!({
            "reason": "ok",
            "overide_reason": "typo",
            "household": {"kk": "1", "extra": {"deep": 1}},
            "lines": [{"sku": "BERAS", "qty": 2}],
            "notes": null
        });
        let mut i = Input::new(&body).unwrap();
        i.text("reason", 10, true);
        i.text("override_reason", 10, false);
        i.text("household.kk", 10, true);
        i.text("lines[0].sku", 10, true);
        i.known("attachments");
        assert_eq!(
            fields(i.finish().unwrap_err()),
            vec![
                ("household.extra".to_string(), "FIELD_UNKNOWN"),
                ("lines[0].qty".to_string(), "FIELD_UNKNOWN"),
                ("notes".to_string(), "FIELD_UNKNOWN"),
                ("overide_reason".to_string(), "FIELD_UNKNOWN"),
            ]
        );
    }

    #[test]
    fn a_field_declared_known_is_not_looked_into() {
        let body = json!({"lines": [{"anything": 1}], "a": {"b": 1}});
        let mut i = Input::new(&body).unwrap();
        i.known("lines");
        i.text("a.b", 10, false);
        assert_eq!(
            fields(i.finish().unwrap_err()),
            vec![("a.b".to_string(), "FIELD_NOT_STRING")]
        );
    }

    #[test]
    fn non_objects_are_malformed() {
        assert!(matches!(
            Input::new(&json!([1])),
            Err(AppError::MalformedBody)
        ));
    }

    #[test]
    fn times_become_utc() {
        let body = json!({"t": "2026-12-03T09:30:00+07:00"});
        let mut i = Input::new(&body).unwrap();
        assert_eq!(
            i.time("t", true).unwrap().to_rfc3339(),
            "2026-12-03T02:30:00+00:00"
        );
    }
}
