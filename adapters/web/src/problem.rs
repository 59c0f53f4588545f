//! RFC 9457 problem documents (`application/problem+json`) for every error a function returns.
//!
//! `type` is a stable URN per code, `title` and `detail` are in the client's language, `code`
//! is the machine code clients switch on, and validation problems list every bad field in
//! `errors: [{field, code, message}]` (at most [`MAX_FIELD_PROBLEMS`]). Nothing here ever
//! holds a full NIK or KK: messages are fixed texts and field errors carry paths, not values,
//! with digit runs in paths masked ([`shown_path`]: a path can be a member name the client
//! chose).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::AppError;
use shared::i18n::Lang;
use utoipa::ToSchema;

/// One bad field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON path of the field, e.g. `household.head_nik`.
    pub field: String,
    /// Stable machine code, e.g. `NIK_LENGTH`.
    pub code: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine code, e.g. `DUPLICATE_ACTIVE_REQUEST`.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For `DUPLICATE_ACTIVE_REQUEST`: the request that is already active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_request_id: Option<String>,
    /// For `INVALID_TRANSITION`: the request's current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// For `RECENTLY_ASSISTED`: when a new request becomes possible (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<String>,
    /// For `INSUFFICIENT_STOCK`: the warehouse, the item and how much of it is available; for
    /// `RECEIPT_REFERENCE_TAKEN`: the warehouse that already received the delivery note.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "GUDANG-DINSOS-BKS")]
    pub warehouse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "BERAS")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 500)]
    pub available: Option<u64>,
}

/// At most this many bad fields are listed (the `detail` still counts them all): a body of
/// thousands of unknown or repeated members does not get an answer many times its size.
pub const MAX_FIELD_PROBLEMS: usize = 100;

/// A field path as shown to the client. Paths of unknown or repeated members and query
/// parameters are the client's own text: a number of ten or more digits in one (a NIK or KK
/// sent as a member name, also written with spaces, dots or dashes between the digits, or in
/// other scripts' digits) has every digit but the first and last four masked, as a NIK is
/// shown (`3275********0001`), and a path longer than 200 characters is cut, so that no error
/// repeats a full NIK or KK, nor a huge name.
pub fn shown_path(path: &str) -> String {
    let chars: Vec<char> = path.chars().collect();
    let is_digit = |c: char| c.is_numeric();
    // Characters that may sit between the digits of one number.
    let joins = |c: char| {
        matches!(c, '.' | '+' | '_' | '/' | ',')
            || c.is_whitespace()
            || shared::input::is_dash(c)
            || shared::input::is_invisible(c)
    };
    let mut out: Vec<char> = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            i += 1;
            continue;
        }
        // One number: digits, with single joining characters between them.
        let mut digits = vec![i];
        let mut j = i + 1;
        while j < chars.len() {
            if is_digit(chars[j]) {
                digits.push(j);
                j += 1;
            } else if joins(chars[j]) && j + 1 < chars.len() && is_digit(chars[j + 1]) {
                j += 1;
            } else {
                break;
            }
        }
        if digits.len() >= 10 {
            for &k in &digits[4..digits.len() - 4] {
                out[k] = '*';
            }
        }
        i = j;
    }
    let shown: String = out.into_iter().collect();
    match shown.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
    }
}

impl Problem {
    pub fn from_error(err: &AppError, lang: Lang) -> Problem {
        let code = err.code();
        let errors = match err {
            AppError::Validation(fields) => fields
                .iter()
                .take(MAX_FIELD_PROBLEMS)
                .map(|f| FieldProblem {
                    field: shown_path(&f.field),
                    code: f.code.to_string(),
                    message: f.message.get(lang).to_string(),
                })
                .collect(),
            // The field a form should mark: the delivery note's number.
            AppError::ReceiptReferenceTaken { .. } => vec![FieldProblem {
                field: "reference".into(),
                code: code.to_string(),
                message: err.detail().get(lang).to_string(),
            }],
            _ => Vec::new(),
        };
        Problem {
            type_: format!(
                "urn:basoka:problem:{}",
                code.to_ascii_lowercase().replace('_', "-")
            ),
            title: err.title().get(lang).to_string(),
            status: err.status(),
            detail: err.detail().get(lang).to_string(),
            code: code.to_string(),
            errors,
            existing_request_id: match err {
                AppError::DuplicateActive { existing_id } => Some(existing_id.to_string()),
                _ => None,
            },
            current_status: match err {
                AppError::InvalidTransition { from, .. } => Some(from.as_str().to_string()),
                _ => None,
            },
            cooldown_until: match err {
                // Written like every other time in the API (`…Z`, as serde writes them).
                AppError::RecentlyAssisted { until } => {
                    Some(until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                }
                _ => None,
            },
            warehouse: match err {
                AppError::InsufficientStock { warehouse, .. }
                | AppError::ReceiptReferenceTaken { warehouse, .. } => Some(warehouse.clone()),
                _ => None,
            },
            sku: match err {
                AppError::InsufficientStock { sku, .. } => Some(sku.clone()),
                _ => None,
            },
            available: match err {
                AppError::InsufficientStock { available, .. } => Some(*available),
                _ => None,
            },
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

/// A domain error on its way to the client, with the language to write it in.
#[derive(Debug)]
pub struct ApiError {
    pub error: AppError,
    pub lang: Lang,
}

impl ApiError {
    pub fn new(error: AppError, lang: Lang) -> ApiError {
        ApiError { error, lang }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let AppError::Unavailable(why) = &self.error {
            // The cause is for operators; the client gets the fixed text.
            tracing::error!(error = %why, "store unavailable");
        }
        Problem::from_error(&self.error, self.lang).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::validation::{FieldError, Invalid};

    #[test]
    fn paths_never_show_a_full_nik_nor_a_huge_name() {
        assert_eq!(shown_path("household.head_nik"), "household.head_nik");
        assert_eq!(shown_path("lines[12].sku"), "lines[12].sku");
        assert_eq!(shown_path("3275014508750001"), "3275********0001");
        assert_eq!(
            shown_path("household.x3275014508750001y"),
            "household.x3275********0001y"
        );
        assert_eq!(shown_path("a123456789"), "a123456789");
        assert_eq!(shown_path("1234567890"), "1234**7890");
        assert_eq!(shown_path("3275-0145-0875-0001"), "3275-****-****-0001");
        assert_eq!(shown_path("3275 0145 0875 0001"), "3275 **** **** 0001");
        assert_eq!(shown_path("32.75.01.450875.0001"), "32.75.**.******.0001");
        assert_eq!(
            shown_path("3275014\u{200B}508750001"),
            "3275***\u{200B}*****0001"
        );
        assert_eq!(
            shown_path("\u{FF13}\u{FF12}\u{FF17}\u{FF15}0145087500\u{FF10}1"),
            "\u{FF13}\u{FF12}\u{FF17}\u{FF15}********00\u{FF10}1"
        );
        assert_eq!(
            shown_path("lines[12].sku-2026-12-04"),
            "lines[12].sku-2026-12-04"
        );
        let long = "é".repeat(5000);
        let shown = shown_path(&long);
        assert_eq!(shown.chars().count(), 201);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn at_most_a_hundred_fields_are_listed_but_all_are_counted() {
        let many: Vec<FieldError> = (0..3000)
            .map(|n| {
                FieldError::new(
                    format!("k{n}"),
                    "FIELD_UNKNOWN",
                    shared::i18n::Text::fixed("x", "x"),
                )
            })
            .collect();
        let p = Problem::from_error(&AppError::Validation(many), Lang::Id);
        assert_eq!(p.errors.len(), MAX_FIELD_PROBLEMS);
        assert!(p.detail.starts_with("3000 "), "{}", p.detail);
    }

    #[test]
    fn validation_lists_every_field_in_the_chosen_language() {
        let err = AppError::Validation(vec![
            Invalid::new(
                "NIK_LENGTH",
                "NIK harus 16 digit",
                "NIK must have 16 digits",
            )
            .at("household.head_nik"),
            Invalid::new("FIELD_REQUIRED", "Wajib diisi.", "Required.").at("category"),
        ]);
        let id = Problem::from_error(&err, Lang::Id);
        assert_eq!(id.status, 400);
        assert_eq!(id.code, "VALIDATION_FAILED");
        assert_eq!(id.errors.len(), 2);
        assert_eq!(id.errors[0].field, "household.head_nik");
        assert_eq!(id.errors[0].message, "NIK harus 16 digit");
        let en = Problem::from_error(&err, Lang::En);
        assert_eq!(en.title, "Invalid data");
        assert_eq!(en.errors[1].message, "Required.");
        assert_eq!(en.type_, "urn:basoka:problem:validation-failed");
    }

    #[test]
    fn insufficient_stock_carries_warehouse_sku_and_available_as_members() {
        let err = AppError::InsufficientStock {
            warehouse: "GUDANG-DINSOS-BKS".into(),
            sku: "BERAS".into(),
            available: 500,
        };
        let v = serde_json::to_value(Problem::from_error(&err, Lang::En)).unwrap();
        assert_eq!(v["code"], "INSUFFICIENT_STOCK");
        assert_eq!(v["warehouse"], "GUDANG-DINSOS-BKS");
        assert_eq!(v["sku"], "BERAS");
        assert_eq!(v["available"], 500);
        // Other problems do not carry them.
        let v = serde_json::to_value(Problem::from_error(&AppError::NotFound, Lang::En)).unwrap();
        assert!(
            v.get("available").is_none() && v.get("sku").is_none(),
            "{v}"
        );
    }

    #[test]
    fn a_delivery_note_received_twice_names_the_reference_field_in_both_languages() {
        let err = AppError::ReceiptReferenceTaken {
            warehouse: "GUDANG-DINSOS-BKS".into(),
            reference: "DO-2026-12-0042".into(),
            received_at: Some("2026-12-04T03:05:00Z".parse().unwrap()),
        };
        let v = serde_json::to_value(Problem::from_error(&err, Lang::Id)).unwrap();
        assert_eq!(v["status"], 409);
        assert_eq!(v["code"], "RECEIPT_REFERENCE_TAKEN");
        assert_eq!(v["type"], "urn:basoka:problem:receipt-reference-taken");
        assert_eq!(v["warehouse"], "GUDANG-DINSOS-BKS");
        assert_eq!(
            v["detail"],
            "Surat jalan DO-2026-12-0042 sudah diterima di gudang GUDANG-DINSOS-BKS pada \
             04-12-2026 10:05 WIB; periksa nomornya atau catat koreksi lewat penyesuaian stok."
        );
        assert_eq!(v["errors"][0]["field"], "reference");
        assert_eq!(v["errors"][0]["code"], "RECEIPT_REFERENCE_TAKEN");
        assert_eq!(v["errors"][0]["message"], v["detail"]);
        let en = Problem::from_error(&err, Lang::En);
        assert_eq!(en.title, "Delivery note already received");
        assert!(
            en.detail.starts_with("Delivery note DO-2026-12-0042 was already received at warehouse GUDANG-DINSOS-BKS on 04-12-2026 10:05 WIB;"),
            "{}",
            en.detail
        );
        // Without the first receipt's time the sentence still reads.
        let err = AppError::ReceiptReferenceTaken {
            warehouse: "GUDANG-DINSOS-BKS".into(),
            reference: "DO-1".into(),
            received_at: None,
        };
        assert!(
            Problem::from_error(&err, Lang::Id).detail.starts_with(
                "Surat jalan DO-1 sudah diterima di gudang GUDANG-DINSOS-BKS; periksa"
            ),
        );
    }

    #[test]
    fn responses_are_problem_json() {
        let res = ApiError::new(AppError::NotFound, Lang::Id).into_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
