//! The routes that need no token: `GET /v1/health`, `GET /v1/openapi.json` (the document
//! generated from the functions' route annotations) and `GET /v1/kelurahan` (the built-in
//! reference list, for clients' pickers). The local runner serves them next to every
//! function; on AWS `submit-request` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The routes of this module, over `openapi` (see [`finish_document`]).
pub fn router(openapi: OpenApi) -> Router {
    Router::new()
        .route("/v1/health", get(crate::health))
        .route("/v1/openapi.json", get(spec))
        .route("/v1/kelurahan", get(kelurahan_list))
        .with_state(Arc::new(openapi))
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route, generated from the code", content_type = "application/json"))
)]
async fn spec(State(openapi): State<Arc<OpenApi>>) -> axum::Json<OpenApi> {
    axum::Json(openapi.as_ref().clone())
}

/// The routes of this module in the document (their handlers carry the annotations).
#[derive(utoipa::OpenApi)]
#[openapi(paths(crate::health, spec, kelurahan_list))]
struct MetaApi;

/// The paths of [`router`], as `(method, path)`.
pub const ROUTES: [(&str, &str); 3] = [
    ("GET", "/v1/health"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/kelurahan"),
];

/// Titles the merged document of the functions and declares the bearer scheme.
pub fn finish_document(mut openapi: OpenApi) -> OpenApi {
    openapi.merge(MetaApi::openapi());
    openapi.info.title = "BASOKA API".into();
    openapi.info.version = "1".into();
    openapi.info.description = Some(
        "Bantuan Sosial Kedaruratan — Dinas Sosial Kota Bekasi. Errors are RFC 9457 problem+json with a stable `code`."
            .into(),
    );
    openapi
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    openapi
}

/// `GET /v1/kelurahan`: the 56 kelurahan of Kota Bekasi with their kecamatan.
#[utoipa::path(
    get, path = "/v1/kelurahan", tag = "meta",
    responses((status = 200, description = "`{items: [{code, name, kecamatan_code, kecamatan_name}]}`, the 56 kelurahan of Kota Bekasi", content_type = "application/json"))
)]
async fn kelurahan_list() -> axum::Json<serde_json::Value> {
    let items: Vec<_> = shared::KelurahanCode::all()
        .map(|k| {
            serde_json::json!({
                "code": k.as_str(), "name": k.name(),
                "kecamatan_code": k.kecamatan_code(), "kecamatan_name": k.kecamatan_name(),
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "items": items }))
}
