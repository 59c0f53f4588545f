//! `allocate-stock`: the warehouse side of BASOKA.
//!
//! HTTP routes (DESIGN §6): stock levels, receipts and adjustments; the item catalogue and
//! packages; shipments and their dispatch; the kelurahan's handover. Queue handler
//! ([`handle_event`]): allocates on `RequestApproved`, releases on `RequestCancelled`, serves
//! the waitlist on `StockReceived` and on a `StockAdjusted` that adds available stock.
//! Scheduled task `{"basoka": "check-low-stock"}` (daily on AWS): tells the warehouse about
//! stock that fell below its threshold as lots passed their date. Thin adapters over
//! `shared::fulfilment`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basoka_web::{ApiError, AuthCaller, ClientLang, JsonBody, Problem, QueryParams};
use shared::AppError;
use shared::events::Event;
use shared::fulfilment::{self, FulfilDeps, LedgerPage, ReceiptView, ShipmentPage};
use shared::fulfilment_ports::Shipment;
use shared::request::RequestView;
use shared::stock::{Item, Package, StockLevel};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The event types this function consumes (its queue's subscription filter on AWS).
pub use shared::fulfilment::CONSUMED_EVENTS;

/// The queue handler: one event, idempotent on its id.
pub async fn handle_event(deps: &FulfilDeps, event: &Event) -> Result<(), AppError> {
    fulfilment::on_event(deps, event).await
}

/// The routes of this function, with their OpenAPI description.
pub fn router() -> OpenApiRouter<Arc<FulfilDeps>> {
    OpenApiRouter::new()
        .routes(routes!(stock_levels))
        .routes(routes!(ledger))
        .routes(routes!(receive))
        .routes(routes!(adjust))
        .routes(routes!(list_items))
        .routes(routes!(put_item, delete_item))
        .routes(routes!(retire_item))
        .routes(routes!(list_packages))
        .routes(routes!(put_package))
        .routes(routes!(list_shipments))
        .routes(routes!(dispatch))
        .routes(routes!(handover))
}

fn json_with(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// Query parameters as received (unknown ones ignored).
type Params = Query<Vec<(String, String)>>;

fn idempotency_key(
    headers: &HeaderMap,
    lang: shared::i18n::Lang,
) -> Result<Option<&str>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 200 => Ok(Some(k)),
            _ => Err(ApiError::new(
                AppError::Validation(vec![
                    shared::validation::Invalid::new(
                        "IDEMPOTENCY_KEY_INVALID",
                        "Idempotency-Key harus 1-200 karakter ASCII tanpa spasi.",
                        "Idempotency-Key must be 1-200 ASCII characters without spaces.",
                    )
                    .at("Idempotency-Key"),
                ]),
                lang,
            )),
        },
    }
}

/// `?warehouse=`
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct WarehouseQuery {
    /// Warehouse code (default: the Dinas warehouse `GUDANG-DINSOS-BKS`).
    warehouse: Option<String>,
}

/// `?warehouse=&sku=&limit=&cursor=`
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LedgerQuery {
    warehouse: Option<String>,
    /// An item of the catalogue (retired items included); another is 400 `SKU_UNKNOWN`.
    sku: String,
    /// Entries per page, 1 to 100 (default 20).
    limit: Option<String>,
    /// `next_cursor` of the previous page (valid for the same item only).
    cursor: Option<String>,
}

/// `?status=&limit=&cursor=`
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ShipmentQuery {
    /// ready, dispatched, delivered or cancelled.
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// One receipt line.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReceiptLineBody {
    #[schema(example = "BERAS")]
    sku: String,
    /// A positive whole number in the item's unit, at most 1000000 (lines of the same item
    /// and date add up into one lot, also at most 1000000).
    #[schema(minimum = 1, maximum = 1000000)]
    quantity: u64,
    /// `YYYY-MM-DD`; allocation takes the earliest expiry first and never an expired lot.
    expires_on: Option<String>,
}

/// `POST /v1/stock/receipts`. Lines of the same item and date add up.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReceiptBody {
    warehouse: Option<String>,
    /// Delivery note (surat jalan) or purchase reference, at most 100 characters. A warehouse
    /// receives a reference once: compared trimmed, ignoring case and extra spaces
    /// (`do-2026-12-0042 ` is `DO-2026-12-0042`); kept as typed.
    reference: String,
    /// 1 to 25 lines (`shared::stock::MAX_LINES`: one receipt is one write, and the largest
    /// write must fit one DynamoDB transaction); more is 400 `LINES_TOO_MANY` on `lines`.
    #[schema(min_items = 1, max_items = 25)]
    lines: Vec<ReceiptLineBody>,
}

/// `POST /v1/stock/adjustments`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AdjustmentBody {
    warehouse: Option<String>,
    sku: String,
    /// Signed whole number from -1000000 to 1000000, not 0; stock never goes below zero. A
    /// removal takes from at most 25 lots (expired first, then earliest expiry); one that
    /// would need more is 400 `TOO_MANY_LOTS` on `delta`, naming how much one adjustment can
    /// remove.
    #[schema(minimum = -1000000, maximum = 1000000)]
    delta: i64,
    reason: String,
}

/// `PUT /v1/items/{sku}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ItemBody {
    name: String,
    /// kg, L, botol, kaleng, bungkus, pcs…
    unit: String,
    low_threshold: Option<u64>,
}

/// One package line.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PackageLineBody {
    sku: String,
    /// Units per package, at most 1000000 (lines of the same item add up, also at most
    /// 1000000).
    #[schema(minimum = 1, maximum = 1000000)]
    quantity: u64,
}

/// `PUT /v1/packages/{code}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PackageBody {
    name: String,
    /// 1 to 25 lines, as for receipts.
    #[schema(min_items = 1, max_items = 25)]
    lines: Vec<PackageLineBody>,
}

/// `POST /v1/requests/{id}/handover`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HandoverBody {
    /// Who received the package.
    received_by: String,
    /// Their relation to the household head, e.g. `kepala keluarga`, `istri`.
    relation: String,
    /// RFC 3339; not before the package left the warehouse (to the minute), not more than
    /// 5 minutes ahead of the server's clock.
    received_at: String,
    note: Option<String>,
}

fn err(lang: shared::i18n::Lang) -> impl Fn(AppError) -> ApiError {
    move |e| ApiError::new(e, lang)
}

/// Stock per item: on hand, allocated, available, low threshold.
#[utoipa::path(get, path = "/v1/stock", tag = "stock", params(WarehouseQuery),
    responses((status = 200, body = Vec<StockLevel>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn stock_levels(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Query(q): Params,
) -> Result<Json<Vec<StockLevel>>, ApiError> {
    let q = QueryParams::for_route(q, &["warehouse"], lang)?;
    fulfilment::stock_levels(&deps, &caller, q.get("warehouse"))
        .await
        .map(Json)
        .map_err(err(lang))
}

/// Every movement of one item, oldest first, a page at a time: on hand is the sum of
/// `delta_on_hand` over all pages.
#[utoipa::path(get, path = "/v1/stock/ledger", tag = "stock", params(LedgerQuery),
    responses((status = 200, body = LedgerPage), (status = 400, description = "`sku` missing, invalid or not in the catalogue (SKU_UNKNOWN); `limit` out of range; `cursor` not one of this item's (CURSOR_INVALID)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn ledger(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Query(q): Params,
) -> Result<Json<LedgerPage>, ApiError> {
    let q = QueryParams::for_route(q, &["warehouse", "sku", "limit", "cursor"], lang)?;
    fulfilment::ledger(
        &deps,
        &caller,
        q.get("warehouse"),
        q.get("sku"),
        q.get("limit"),
        q.get("cursor"),
    )
    .await
    .map(Json)
    .map_err(err(lang))
}

/// Record goods received (with `Idempotency-Key`); a delivery note once per warehouse.
#[utoipa::path(post, path = "/v1/stock/receipts", tag = "stock", request_body = ReceiptBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ReceiptView),
        (status = 400, description = "Every bad line named, e.g. lines[1].quantity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "RECEIPT_REFERENCE_TAKEN: the warehouse already received this delivery note (`reference`, compared ignoring case and extra spaces), under any key or none; nothing is received. `errors` names `reference`, `warehouse` the warehouse. A correction is a stock adjustment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "IDEMPOTENCY_KEY_REUSED", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn receive(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, lang)?;
    let out = fulfilment::receive(&deps, &caller, key, &body)
        .await
        .map_err(err(lang))?;
    Ok(json_with(
        StatusCode::from_u16(out.status).unwrap_or(StatusCode::CREATED),
        out.body,
        out.replayed,
    ))
}

/// Correct stock by a signed amount, with a reason; never below zero. Answers the item's
/// stock level as the adjustment left it. With an `Idempotency-Key`, a retry (same key and
/// body) gets the first answer again and changes nothing.
#[utoipa::path(post, path = "/v1/stock/adjustments", tag = "stock", request_body = AdjustmentBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the first answer again, applied once")),
    responses((status = 200, body = StockLevel),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INSUFFICIENT_STOCK, with the members `warehouse`, `sku` and `available` (what could still be taken)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "IDEMPOTENCY_KEY_REUSED", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn adjust(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, lang)?;
    let out = fulfilment::adjust(&deps, &caller, key, &body)
        .await
        .map_err(err(lang))?;
    Ok(json_with(
        StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK),
        out.body,
        out.replayed,
    ))
}

/// The item catalogue.
#[utoipa::path(get, path = "/v1/items", tag = "catalogue", responses((status = 200, body = Vec<Item>)), security(("bearer" = [])))]
async fn list_items(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(_caller): AuthCaller,
    ClientLang(lang): ClientLang,
) -> Result<Json<Vec<Item>>, ApiError> {
    fulfilment::items(&deps).await.map(Json).map_err(err(lang))
}

/// Create or change an item.
#[utoipa::path(put, path = "/v1/items/{sku}", tag = "catalogue", params(("sku" = String, Path)), request_body = ItemBody,
    responses((status = 200, body = Item), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn put_item(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(sku): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Item>, ApiError> {
    fulfilment::put_item(&deps, &caller, &sku, &body)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// Delete an item nothing uses; an item used by a package or a past movement is 409
/// `ITEM_IN_USE` (retire it instead).
#[utoipa::path(delete, path = "/v1/items/{sku}", tag = "catalogue", params(("sku" = String, Path)),
    responses((status = 204), (status = 409, description = "ITEM_IN_USE", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn delete_item(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(sku): Path<String>,
) -> Result<StatusCode, ApiError> {
    fulfilment::delete_item(&deps, &caller, &sku)
        .await
        .map(|_| StatusCode::NO_CONTENT)
        .map_err(err(lang))
}

/// Retire an item: kept in the ledger, no longer received or packaged.
#[utoipa::path(post, path = "/v1/items/{sku}/retire", tag = "catalogue", params(("sku" = String, Path)),
    responses((status = 200, body = Item), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn retire_item(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(sku): Path<String>,
) -> Result<Json<Item>, ApiError> {
    fulfilment::retire_item(&deps, &caller, &sku)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// Food packages (bills of materials).
#[utoipa::path(get, path = "/v1/packages", tag = "catalogue", responses((status = 200, body = Vec<Package>)), security(("bearer" = [])))]
async fn list_packages(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(_caller): AuthCaller,
    ClientLang(lang): ClientLang,
) -> Result<Json<Vec<Package>>, ApiError> {
    fulfilment::packages(&deps)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// Define or change a package (dinas).
#[utoipa::path(put, path = "/v1/packages/{code}", tag = "catalogue", params(("code" = String, Path)), request_body = PackageBody,
    responses((status = 200, body = Package), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn put_package(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Package>, ApiError> {
    fulfilment::put_package(&deps, &caller, &code, &body)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// Shipments, newest first.
#[utoipa::path(get, path = "/v1/shipments", tag = "shipments", params(ShipmentQuery),
    responses((status = 200, body = ShipmentPage), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_shipments(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Query(q): Params,
) -> Result<Json<ShipmentPage>, ApiError> {
    let q = QueryParams::for_route(q, &["status", "limit", "cursor"], lang)?;
    fulfilment::shipments(
        &deps,
        &caller,
        q.get("status"),
        q.get("limit"),
        q.get("cursor"),
    )
    .await
    .map(Json)
    .map_err(err(lang))
}

/// The package leaves the warehouse; the request becomes `dispatched`.
#[utoipa::path(post, path = "/v1/shipments/{id}/dispatch", tag = "shipments", params(("id" = String, Path)),
    responses((status = 200, body = Shipment), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn dispatch(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
) -> Result<Json<Shipment>, ApiError> {
    fulfilment::dispatch(&deps, &caller, &id)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// The kelurahan records who received the package; the request becomes `delivered`.
#[utoipa::path(post, path = "/v1/requests/{id}/handover", tag = "shipments", params(("id" = String, Path)), request_body = HandoverBody,
    responses((status = 200, body = RequestView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn handover(
    State(deps): State<Arc<FulfilDeps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    fulfilment::handover(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(err(lang))
}

/// This function on AWS Lambda (the binary in `main.rs`): one binary for the HTTP routes and
/// the queue, told apart by the shape of each invocation. One binary keeps one cold start, one
/// set of clients and one IAM policy for the code that owns the stock; the queue and the API
/// scale independently anyway (the event source mapping has its own concurrency limit).
pub mod lambda {
    use std::sync::Arc;

    use basoka_aws::{AwsAdapters, Port};
    use basoka_lambda::Function;
    use basoka_lambda::http::{ContactBook, api};

    /// The scheduled task's name: [`shared::fulfilment::check_low_stock`].
    pub const LOW_STOCK_TASK: &str = "check-low-stock";

    /// The store ports this function uses: its IAM policy is exactly their actions
    /// (`basoka_aws::calls`), which the infrastructure drift test checks.
    pub const PORTS: &[Port] = &[
        Port::RequestReads,
        // The waitlist sweep lists the waitlisted requests.
        Port::RequestQueries,
        Port::RequestWrites,
        Port::Idempotency,
        Port::Stock,
        Port::Contacts,
    ];

    /// The environment its cold start reads (`main.rs`: `basoka_lambda::connect`): the
    /// template sets exactly these for it (the drift test checks).
    pub const ENVIRONMENT: &[&str] = &[
        "BASOKA_TABLE",
        "BASOKA_HASH_KEY",
        "BASOKA_IDEMPOTENCY_TTL_HOURS",
        "BASOKA_OUTBOX_TTL_DAYS",
        "RUST_LOG",
    ];

    pub fn function(aws: &AwsAdapters) -> Function {
        let deps = Arc::new(aws.fulfil_deps());
        let routes: axum::Router = super::router().with_state(deps.clone()).into();
        let check = deps.clone();
        Function::new("allocate-stock")
            .with_http(api(routes, Some(ContactBook::new(aws.store.clone()))))
            .with_queue(move |event| {
                let deps = deps.clone();
                async move { super::handle_event(&deps, &event).await }
            })
            .with_task(LOW_STOCK_TASK, move || {
                let deps = check.clone();
                async move {
                    let checked = shared::fulfilment::check_low_stock(&deps).await?;
                    Ok(serde_json::json!({ "items_checked": checked }))
                }
            })
    }
}
