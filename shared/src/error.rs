//! The errors a use case can end in, each with a stable machine code, an HTTP status and a
//! bilingual title and detail. The HTTP layer turns them into RFC 9457 problem documents.

use chrono::{DateTime, Utc};

use crate::i18n::Text;
use crate::ids::RequestId;
use crate::lifecycle::{Action, Status};
use crate::ports::StoreError;
use crate::validation::FieldError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("the body is not valid JSON")]
    MalformedBody,
    #[error("not authenticated")]
    Unauthenticated,
    #[error("role may not do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// No route of the API has this path (the same code as [`AppError::NotFound`], another
    /// explanation).
    #[error("no such route")]
    UnknownRoute,
    #[error("transition not allowed")]
    InvalidTransition { from: Status, action: Action },
    #[error("duplicate active request")]
    DuplicateActive { existing_id: RequestId },
    #[error("recently assisted")]
    RecentlyAssisted { until: DateTime<Utc> },
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    #[error("modified concurrently")]
    ConcurrentModification,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body sent with a content type other than JSON (or none).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The route exists, but not with this HTTP method (the `Allow` header lists those it has).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("insufficient stock")]
    InsufficientStock {
        warehouse: String,
        sku: String,
        available: u64,
    },
    #[error("item in use")]
    ItemInUse,
    /// The warehouse already received this delivery note (`reference` as typed now;
    /// `received_at` the first receipt's time, when the store could tell).
    #[error("delivery note already received")]
    ReceiptReferenceTaken {
        warehouse: String,
        reference: String,
        received_at: Option<DateTime<Utc>>,
    },
    /// A write larger than the store applies at once (`StoreError::TooLarge`): not worth
    /// retrying, unlike [`AppError::Unavailable`].
    #[error("write too large: {0}")]
    TooLarge(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The field error of a `cursor` parameter that no listing like this one handed out.
pub fn cursor_invalid() -> FieldError {
    FieldError::new(
        "cursor",
        "CURSOR_INVALID",
        Text::fixed(
            "Cursor tidak sah; gunakan next_cursor dari halaman sebelumnya dengan filter yang sama.",
            "Invalid cursor; use next_cursor from the previous page, with the same filters.",
        ),
    )
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateActive(id) => AppError::DuplicateActive { existing_id: id },
            StoreError::VersionConflict => AppError::ConcurrentModification,
            StoreError::InvalidCursor => AppError::Validation(vec![cursor_invalid()]),
            StoreError::IdempotencyKeyTaken => AppError::IdempotencyKeyReused,
            e @ StoreError::TooLarge { .. } => AppError::TooLarge(e.to_string()),
            other => AppError::Unavailable(other.to_string()),
        }
    }
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation(_) | AppError::MalformedBody => 400,
            AppError::Unauthenticated => 401,
            AppError::Forbidden => 403,
            AppError::NotFound | AppError::UnknownRoute => 404,
            AppError::InvalidTransition { .. }
            | AppError::DuplicateActive { .. }
            | AppError::RecentlyAssisted { .. }
            | AppError::ConcurrentModification
            | AppError::InsufficientStock { .. }
            | AppError::ItemInUse
            | AppError::ReceiptReferenceTaken { .. } => 409,
            AppError::MethodNotAllowed => 405,
            AppError::PayloadTooLarge => 413,
            AppError::UnsupportedMediaType => 415,
            AppError::IdempotencyKeyReused | AppError::TooLarge(_) => 422,
            AppError::Unavailable(_) => 503,
        }
    }

    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::MalformedBody => "MALFORMED_BODY",
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::NotFound | AppError::UnknownRoute => "NOT_FOUND",
            AppError::InvalidTransition { .. } => "INVALID_TRANSITION",
            AppError::DuplicateActive { .. } => "DUPLICATE_ACTIVE_REQUEST",
            AppError::RecentlyAssisted { .. } => "RECENTLY_ASSISTED",
            AppError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            AppError::ConcurrentModification => "CONCURRENT_MODIFICATION",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            AppError::InsufficientStock { .. } => "INSUFFICIENT_STOCK",
            AppError::ItemInUse => "ITEM_IN_USE",
            AppError::ReceiptReferenceTaken { .. } => "RECEIPT_REFERENCE_TAKEN",
            AppError::TooLarge(_) => "WRITE_TOO_LARGE",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
        }
    }

    pub fn title(&self) -> Text {
        match self {
            AppError::Validation(_) => Text::fixed("Data tidak valid", "Invalid data"),
            AppError::MalformedBody => Text::fixed(
                "Isi permintaan bukan JSON yang sah",
                "Body is not valid JSON",
            ),
            AppError::Unauthenticated => Text::fixed("Belum masuk", "Not authenticated"),
            AppError::InsufficientStock { .. } => {
                Text::fixed("Stok tidak cukup", "Insufficient stock")
            }
            AppError::ItemInUse => Text::fixed("Barang masih dipakai", "Item in use"),
            AppError::ReceiptReferenceTaken { .. } => Text::fixed(
                "Surat jalan sudah diterima",
                "Delivery note already received",
            ),
            AppError::Forbidden => Text::fixed("Tidak diizinkan", "Forbidden"),
            AppError::NotFound | AppError::UnknownRoute => {
                Text::fixed("Tidak ditemukan", "Not found")
            }
            AppError::InvalidTransition { .. } => {
                Text::fixed("Langkah tidak diizinkan", "Transition not allowed")
            }
            AppError::DuplicateActive { .. } => {
                Text::fixed("Permohonan ganda", "Duplicate request")
            }
            AppError::RecentlyAssisted { .. } => {
                Text::fixed("Baru saja menerima bantuan", "Recently assisted")
            }
            AppError::IdempotencyKeyReused => {
                Text::fixed("Idempotency-Key dipakai ulang", "Idempotency-Key reused")
            }
            AppError::ConcurrentModification => {
                Text::fixed("Data berubah bersamaan", "Modified concurrently")
            }
            AppError::PayloadTooLarge => {
                Text::fixed("Isi permintaan terlalu besar", "Payload too large")
            }
            AppError::MethodNotAllowed => {
                Text::fixed("Metode tidak diizinkan", "Method not allowed")
            }
            AppError::UnsupportedMediaType => Text::fixed(
                "Jenis isi permintaan tidak didukung",
                "Unsupported media type",
            ),
            AppError::TooLarge(_) => Text::fixed("Perubahan terlalu besar", "Write too large"),
            AppError::Unavailable(_) => {
                Text::fixed("Layanan sedang tidak tersedia", "Service unavailable")
            }
        }
    }

    pub fn detail(&self) -> Text {
        match self {
            AppError::Validation(errors) => Text::new(
                format!("{} isian tidak valid; lihat daftar errors.", errors.len()),
                format!(
                    "{} field(s) are invalid; see the errors list.",
                    errors.len()
                ),
            ),
            AppError::MalformedBody => Text::fixed(
                "Isi permintaan harus objek JSON yang sah (Content-Type: application/json).",
                "The body must be a valid JSON object (Content-Type: application/json).",
            ),
            AppError::Unauthenticated => Text::fixed(
                "Sertakan token yang sah di header Authorization: Bearer <token>.",
                "Send a valid token in the Authorization: Bearer <token> header.",
            ),
            AppError::Forbidden => Text::fixed(
                "Peran Anda tidak boleh melakukan tindakan ini.",
                "Your role may not perform this action.",
            ),
            AppError::NotFound => Text::fixed(
                "Data yang diminta tidak ada atau di luar wilayah Anda.",
                "The requested record does not exist or is outside your scope.",
            ),
            AppError::UnknownRoute => Text::fixed(
                "Alamat API ini tidak ada; daftar alamat dan metodenya ada di /v1/openapi.json.",
                "There is no such API path; /v1/openapi.json lists every path and its methods.",
            ),
            AppError::InvalidTransition { from, action } => Text::new(
                format!(
                    "Tindakan '{}' tidak bisa dilakukan pada permohonan berstatus '{}'.",
                    action.as_str(),
                    from.as_str()
                ),
                format!(
                    "Action '{}' is not allowed on a request in status '{}'.",
                    action.as_str(),
                    from.as_str()
                ),
            ),
            AppError::DuplicateActive { existing_id } => Text::new(
                format!(
                    "Rumah tangga ini (NIK kepala keluarga atau KK) sudah punya permohonan aktif: {existing_id}."
                ),
                format!(
                    "This household (head NIK or KK) already has an active request: {existing_id}."
                ),
            ),
            AppError::RecentlyAssisted { until } => {
                let wib = crate::time::wib(until);
                Text::new(
                    format!(
                        "Rumah tangga ini baru menerima bantuan; permohonan baru bisa diajukan setelah {wib}, atau sertakan override_reason."
                    ),
                    format!(
                        "This household was assisted recently; a new request is possible after {wib}, or give an override_reason."
                    ),
                )
            }
            AppError::IdempotencyKeyReused => Text::fixed(
                "Idempotency-Key ini sudah dipakai untuk isi permintaan yang berbeda; gunakan kunci baru.",
                "This Idempotency-Key was already used with a different body; use a new key.",
            ),
            AppError::ConcurrentModification => Text::fixed(
                "Permohonan diubah orang lain pada saat yang sama; muat ulang lalu coba lagi.",
                "The request was changed by someone else at the same time; reload and try again.",
            ),
            AppError::PayloadTooLarge => Text::fixed(
                "Isi permintaan melebihi 64 KiB.",
                "The body exceeds 64 KiB.",
            ),
            AppError::UnsupportedMediaType => Text::fixed(
                "Isi permintaan harus JSON dengan header Content-Type: application/json (charset, bila ada, utf-8).",
                "The body must be JSON sent with Content-Type: application/json (charset, if any, utf-8).",
            ),
            AppError::MethodNotAllowed => Text::fixed(
                "Alamat ini tidak menerima metode HTTP tersebut; metode yang diterima ada di header Allow.",
                "This path does not accept that HTTP method; the Allow header lists the methods it accepts.",
            ),
            AppError::InsufficientStock { sku, available, .. } => Text::new(
                format!("Stok {sku} tidak boleh di bawah nol; yang tersedia {available}."),
                format!("Stock of {sku} cannot go below zero; {available} available."),
            ),
            AppError::ItemInUse => Text::fixed(
                "Barang ini dipakai oleh paket atau riwayat stok sehingga tidak bisa dihapus; pensiunkan (retire) saja.",
                "This item is used by a package or by stock history and cannot be deleted; retire it instead.",
            ),
            AppError::ReceiptReferenceTaken {
                warehouse,
                reference,
                received_at,
            } => {
                let (pada, on) = match received_at {
                    Some(t) => {
                        let wib = crate::time::wib(t);
                        (format!(" pada {wib}"), format!(" on {wib}"))
                    }
                    None => (String::new(), String::new()),
                };
                Text::new(
                    format!(
                        "Surat jalan {reference} sudah diterima di gudang {warehouse}{pada}; periksa nomornya atau catat koreksi lewat penyesuaian stok."
                    ),
                    format!(
                        "Delivery note {reference} was already received at warehouse {warehouse}{on}; check its number, or record a correction as a stock adjustment."
                    ),
                )
            }
            AppError::TooLarge(_) => Text::fixed(
                "Perubahan ini terlalu besar untuk disimpan sekaligus dan tidak disimpan; mengulang tidak akan berhasil. Bagi menjadi beberapa perubahan yang lebih kecil.",
                "This change is too large to be stored at once and was not stored; retrying will not help. Split it into smaller changes.",
            ),
            AppError::Unavailable(_) => Text::fixed(
                "Penyimpanan data sedang bermasalah; coba lagi sebentar lagi.",
                "The data store is failing; try again shortly.",
            ),
        }
    }
}
