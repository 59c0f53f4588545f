//! `verify-survey`: the Dinas side of a request: assigning the survey, recording it, the
//! decision, and the Dinas's report of what was submitted.
//!
//! Routes (DESIGN §6): `POST /v1/requests/{id}/survey-assignment` (dinas),
//! `POST /v1/requests/{id}/survey` (the assigned surveyor), `POST /v1/requests/{id}/decision`
//! (dinas), `GET /v1/reports/summary?from=&to=` (dinas; JSON, or CSV with `Accept: text/csv`).
//! Thin adapters over `shared::usecases` and `shared::reports`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use basoka_web::{ApiError, AuthCaller, ClientLang, JsonBody, Problem};
use shared::ports::Deps;
use shared::reports::{self, Summary, SummaryParams};
use shared::request::RequestView;
use shared::usecases;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this function, with their OpenAPI description.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(assign_survey))
        .routes(routes!(record_survey))
        .routes(routes!(decide))
        .routes(routes!(report_summary))
}

/// `POST /v1/requests/{id}/survey-assignment`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssignmentBody {
    /// The surveyor's `sub` (user id).
    surveyor: String,
    /// RFC 3339; not in the past, at most 90 days ahead (`DUE_AT_TOO_FAR`).
    due_at: Option<String>,
}

/// `POST /v1/requests/{id}/survey`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SurveyBody {
    /// RFC 3339, e.g. `2026-12-03T09:30:00+07:00`; not in the future.
    visited_at: String,
    findings: String,
    members_verified: u32,
    /// `approve` or `reject`.
    recommendation: String,
}

/// `POST /v1/requests/{id}/decision`. Package fields are required when approving.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DecisionBody {
    /// `approve` or `reject`.
    decision: String,
    reason: String,
    #[schema(example = "PAKET-SEMBAKO")]
    package_code: Option<String>,
    #[schema(minimum = 1, maximum = 20)]
    packages: Option<u32>,
    /// `kelurahan` (to the kelurahan office) or `household`.
    delivery: Option<String>,
}

/// Assign (or reassign) the survey of a submitted request to a surveyor.
#[utoipa::path(
    post, path = "/v1/requests/{id}/survey-assignment", tag = "survey",
    params(("id" = String, Path)),
    request_body = AssignmentBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn assign_survey(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::assign_survey(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Record the survey of a request assigned to the calling surveyor.
#[utoipa::path(
    post, path = "/v1/requests/{id}/survey", tag = "survey",
    params(("id" = String, Path)),
    request_body = SurveyBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, or not assigned to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn record_survey(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::record_survey(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Approve or reject a surveyed request, with a reason.
#[utoipa::path(
    post, path = "/v1/requests/{id}/decision", tag = "survey",
    params(("id" = String, Path)),
    request_body = DecisionBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION (e.g. before the survey)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn decide(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::decide(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Query of `GET /v1/reports/summary`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SummaryQuery {
    /// First day, `YYYY-MM-DD`, in WIB (Asia/Jakarta), included. Default: 29 days before `to`.
    #[param(example = "2026-11-05")]
    from: Option<String>,
    /// Last day, `YYYY-MM-DD`, in WIB, included. Default: today in WIB. At most 366 days
    /// after `from`, counting both.
    #[param(example = "2026-12-04")]
    to: Option<String>,
}

/// Whether the client asked for CSV: `text/csv` in `Accept`, with a weight above zero and
/// not below that of JSON (`application/json`). Anything else gets JSON.
pub fn wants_csv(headers: &HeaderMap) -> bool {
    let mut csv = 0.0_f32;
    let mut json = 0.0_f32;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    let (name, v) = p.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| v.trim().parse::<f32>().ok())
                        .flatten()
                })
                .unwrap_or(1.0);
            match media.as_str() {
                "text/csv" => csv = csv.max(q),
                "application/json" => json = json.max(q),
                _ => {}
            }
        }
    }
    csv > 0.0 && csv >= json
}

/// The requests submitted in a period (days in WIB), counted: by current status, category,
/// urgency, flag and kelurahan, with the approved packages and the median time to decision.
/// No NIK, KK, name, phone, address or free text. With `Accept: text/csv`, one row per
/// kelurahan with requests and a `TOTAL` row, as a download.
#[utoipa::path(
    get, path = "/v1/reports/summary", tag = "reports",
    params(SummaryQuery),
    responses(
        (status = 200, description = "The summary; CSV (`kelurahan_code,kelurahan,total,<one column per status>`, then `TOTAL`) with `Accept: text/csv`",
            content((Summary = "application/json"), (String = "text/csv"))),
        (status = 400, description = "`from` or `to` not a date, `from` after `to`, more than 366 days (all listed)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the Dinas", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn report_summary(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = basoka_web::QueryParams::for_route(q, &["from", "to"], lang)?;
    let params = SummaryParams {
        from: q.get("from").map(str::to_string),
        to: q.get("to").map(str::to_string),
    };
    let summary = reports::summary(&deps, &caller, &params)
        .await
        .map_err(|e| ApiError::new(e, lang))?;
    let mut res = if wants_csv(&headers) {
        csv_response(&summary)
    } else {
        Json(summary).into_response()
    };
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(res)
}

fn csv_response(summary: &Summary) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", summary.csv_filename());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).expect("dates and ASCII make a header"),
            ),
        ],
        summary.to_csv(),
    )
        .into_response()
}

/// This function on AWS Lambda (the binary in `main.rs`).
pub mod lambda {
    use std::sync::Arc;

    use basoka_aws::{AwsAdapters, Port};
    use basoka_lambda::Function;
    use basoka_lambda::http::{ContactBook, api};
    use shared::policy::Policy;

    /// The store ports this function uses: its IAM policy is exactly their actions
    /// (`basoka_aws::calls`), which the infrastructure drift test checks. Assignment, survey
    /// and decision read and write one request by its key; `RequestQueries` (`Query`, on the
    /// indexes) is the report's, which lists the period's requests on GSI4.
    pub const PORTS: &[Port] = &[
        Port::RequestReads,
        Port::RequestQueries,
        Port::RequestWrites,
        Port::Catalog,
        Port::Contacts,
    ];

    /// The environment its cold start reads (`main.rs`: `basoka_lambda::connect` and
    /// `settings::policy`), minus the idempotency TTL (it writes no idempotency record): the
    /// template sets exactly these for it (the drift test checks).
    pub const ENVIRONMENT: &[&str] = &[
        "BASOKA_TABLE",
        "BASOKA_HASH_KEY",
        "BASOKA_OUTBOX_TTL_DAYS",
        "BASOKA_TARGET_MAX_DESIL",
        "BASOKA_COOLDOWN_DAYS",
        "RUST_LOG",
    ];

    pub fn function(aws: &AwsAdapters, policy: Policy) -> Function {
        let deps = Arc::new(aws.request_deps(policy));
        let routes: axum::Router = super::router().with_state(deps).into();
        Function::new("verify-survey")
            .with_http(api(routes, Some(ContactBook::new(aws.store.clone()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn csv_only_when_asked_for_and_not_less_wanted_than_json() {
        for yes in [
            &["text/csv"][..],
            &["Text/CSV; charset=utf-8"],
            &["text/csv, application/json"],
            &["application/json;q=0.5, text/csv"],
            &["application/json;q=0.1", "text/csv;q=0.2"],
        ] {
            assert!(wants_csv(&accept(yes)), "{yes:?}");
        }
        for no in [
            &[][..],
            &["application/json"],
            &["*/*"],
            &["text/*"],
            &["text/csv;q=0"],
            &["text/csv;q=0.5, application/json"],
            &["text/html"],
        ] {
            assert!(!wants_csv(&accept(no)), "{no:?}");
        }
    }
}
