//! Field-level validation problems, collected so that a client learns every bad field at once.

use crate::i18n::Text;

/// One bad field: its JSON path (`household.head_nik`), a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: Text,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: Text) -> FieldError {
        FieldError {
            field: field.into(),
            code,
            message,
        }
    }

    /// The same problem reported under another field path.
    pub fn at(mut self, field: impl Into<String>) -> FieldError {
        self.field = field.into();
        self
    }
}

/// A problem with a value, before it is known which field held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: Text,
}

impl Invalid {
    pub const fn new(code: &'static str, id: &'static str, en: &'static str) -> Invalid {
        Invalid {
            code,
            message: Text::fixed(id, en),
        }
    }

    pub fn dynamic(code: &'static str, message: Text) -> Invalid {
        Invalid { code, message }
    }

    /// Names the field the bad value came from.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError::new(field, self.code, self.message)
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message.en, self.code)
    }
}

impl std::error::Error for Invalid {}

/// Collects field errors while a body is parsed.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Errors {
        Errors::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value when it parsed, records the problem under `field` when it did not.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e.at(field));
                None
            }
        }
    }

    /// Whether a problem is already recorded for `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}
