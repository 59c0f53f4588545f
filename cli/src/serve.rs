//! `basoka serve`: every HTTP function of BASOKA on one port, over the embedded store.
//!
//! The routers are the functions' own (`submit-request`, `verify-survey`), merged; the runner
//! adds what API Gateway adds on AWS: token verification, the body limit, request logs and a
//! problem+json answer for unknown routes. Store calls run on the blocking pool, so the async
//! workers only parse, route and serialise.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use basoka_embedded::{EmbeddedStore, FileSms};
use basoka_web::{BODY_LIMIT, TokenVerifier};
use clap::Args;
use shared::Phone;
use shared::fulfilment::FulfilDeps;
use shared::notify::{NotifyConfig, NotifyDeps};
use shared::policy::Policy;
use shared::ports::{Clock, Deps, Ids, RandomIds, SystemClock};
use shared::stock::WarehouseCode;
use tokio::sync::watch;

/// The local SMS outbox file, in the data folder: one JSON line per SMS.
pub const SMS_OUTBOX: &str = "sms-outbox.jsonl";
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::datadir::{self, DataDirArg};
use crate::delivery::{self, DeliveryMode, Handler};
use crate::seed;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the URL is printed).
    #[arg(long, env = "BASOKA_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "BASOKA_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Highest registry decile targeted; above it a request is flagged `desil_above_target`.
    #[arg(long, env = "BASOKA_TARGET_MAX_DESIL", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=10))]
    target_max_desil: u8,
    /// Days after a delivery during which a new request for the household needs `override_reason`.
    #[arg(long, env = "BASOKA_COOLDOWN_DAYS", default_value_t = 30)]
    cooldown_days: u32,
    /// The Dinas duty mobile: told by SMS of new and waitlisted requests (demo number by default).
    #[arg(long, env = "BASOKA_DINAS_PHONE", default_value = "+6281100000001")]
    dinas_phone: String,
    /// The warehouse mobile: told by SMS of packages to ship and of low stock (demo number by default).
    #[arg(long, env = "BASOKA_GUDANG_PHONE", default_value = "+6281100000002")]
    gudang_phone: String,
    /// On first run, do not receive the opening stock of 50 packages.
    #[arg(long)]
    no_opening_stock: bool,
    #[command(flatten)]
    data: DataDirArg,
}

/// The OpenAPI document and the router of every function, merged.
pub fn app(deps: Arc<Deps>, fulfil: Arc<FulfilDeps>, verifier: TokenVerifier) -> Router {
    let (router, mut openapi) = OpenApiRouter::new()
        .merge(submit_request::router().with_state(deps.clone()))
        .merge(verify_survey::router().with_state(deps))
        .merge(allocate_stock::router().with_state(fulfil))
        .split_for_parts();
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
    let openapi = Arc::new(openapi);
    let spec = {
        let openapi = openapi.clone();
        move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }
    };
    router
        .route("/v1/health", axum::routing::get(basoka_web::health))
        .route("/v1/openapi.json", axum::routing::get(spec))
        .route("/v1/kelurahan", axum::routing::get(kelurahan_list))
        .fallback(basoka_web::not_found)
        .layer(axum::middleware::from_fn_with_state(
            verifier,
            basoka_web::local_auth,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// `GET /v1/kelurahan`: the built-in reference list, for clients' pickers.
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

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BASOKA_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    init_logs();
    let dir = args.data.resolve();
    let phone = |flag: &str, raw: &str| {
        Phone::parse(raw).map_err(|e| format!("{flag} {raw}: {}", e.message.en))
    };
    let dinas_phone = phone("--dinas-phone", &args.dinas_phone)?;
    let gudang_phone = phone("--gudang-phone", &args.gudang_phone)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let store = EmbeddedStore::open(&dir)
        .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?;
    let secret = datadir::token_secret(&dir)?;
    let verifier = TokenVerifier::new(&secret).map_err(|e| e.to_string())?;
    let shared_store = Arc::new(store.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn Ids> = Arc::new(RandomIds);
    let deps = Arc::new(Deps {
        requests: shared_store.clone(),
        idempotency: shared_store.clone(),
        registry: shared_store.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        policy: Policy {
            target_max_desil: args.target_max_desil,
            cooldown_days: args.cooldown_days,
        },
        catalog: Some(shared_store.clone()),
    });
    let fulfil = Arc::new(FulfilDeps {
        requests: shared_store.clone(),
        stock: shared_store.clone(),
        idempotency: shared_store.clone(),
        clock: clock.clone(),
        ids,
        warehouses: vec![WarehouseCode::default_warehouse()],
    });
    let notify_deps = Arc::new(NotifyDeps {
        requests: shared_store.clone(),
        directory: shared_store.clone(),
        log: shared_store.clone(),
        sender: Arc::new(FileSms::new(dir.join(SMS_OUTBOX))),
        clock,
        config: NotifyConfig {
            dinas_duty: Some(dinas_phone),
            gudang: Some(gudang_phone),
            max_attempts: 5,
        },
    });
    rt.block_on(seed::run(&store, &fulfil, !args.no_opening_stock))?;
    let app = app(deps, fulfil.clone(), verifier);
    rt.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mode = DeliveryMode::from_env();
        if !mode.enabled {
            tracing::warn!(
                "BASOKA_DELIVERY=off: events stay in the outbox until a run with delivery"
            );
        }
        if mode.enabled {
            let fulfil = fulfil.clone();
            let handler: Handler = Arc::new(move |event| {
                let fulfil = fulfil.clone();
                Box::pin(async move { allocate_stock::handle_event(&fulfil, &event).await })
            });
            tasks.push(tokio::spawn(delivery::run_consumer(
                store.clone(),
                "allocate-stock",
                handler,
                mode.repeat,
                stop_rx.clone(),
            )));
        }
        if mode.enabled {
            let nd = notify_deps.clone();
            let handler: Handler = Arc::new(move |event| {
                let nd = nd.clone();
                Box::pin(async move { notify::handle_event(&nd, &event).await.map(|_| ()) })
            });
            tasks.push(tokio::spawn(delivery::run_consumer(
                store.clone(),
                "notify",
                handler,
                mode.repeat,
                stop_rx.clone(),
            )));
        }
        {
            let nd = notify_deps.clone();
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {},
                        _ = stop.changed() => break,
                    }
                    match notify::retry_failed(&nd).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sent = n, "failed SMS sent on retry"),
                        Err(e) => tracing::warn!(error = %e, "SMS retry sweep failed"),
                    }
                }
            }));
        }
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        print_banner(addr, &dir);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server failed: {e}"));
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_banner(addr: SocketAddr, dir: &Path) {
    let url = format!("http://{addr}");
    let d = dir.display();
    // The first line is read by scripts and tests: keep its shape.
    println!("BASOKA listening on {url}");
    println!("  data folder: {d}");
    println!("  health:      {url}/v1/health");
    println!("  API spec:    {url}/v1/openapi.json");
    println!("  SMS outbox:  {}", dir.join(SMS_OUTBOX).display());
    println!("Tokens for each role (same data folder):");
    println!("  basoka token --data-dir {d} --role kelurahan --kelurahan 32.75.01.1001");
    println!("  basoka token --data-dir {d} --role surveyor --sub surveyor-1");
    println!("  basoka token --data-dir {d} --role dinas");
    println!("  basoka token --data-dir {d} --role gudang");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
