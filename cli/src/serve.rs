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
use basoka_embedded::EmbeddedStore;
use basoka_web::{BODY_LIMIT, TokenVerifier};
use clap::Args;
use shared::policy::Policy;
use shared::ports::{Deps, RandomIds, SystemClock};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::datadir::{self, DataDirArg};

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
    #[command(flatten)]
    data: DataDirArg,
}

/// The OpenAPI document and the router of every function, merged.
pub fn app(deps: Arc<Deps>, verifier: TokenVerifier) -> Router {
    let (router, mut openapi) = OpenApiRouter::new()
        .merge(submit_request::router())
        .merge(verify_survey::router())
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
        .with_state(deps)
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

fn seed(store: &EmbeddedStore, rt: &tokio::runtime::Runtime) -> Result<(), String> {
    rt.block_on(async {
        if store.kv_get("seed.kelurahan").await.map_err(|e| e.to_string())?.is_none() {
            let n = shared::KelurahanCode::all().count();
            store
                .kv_set("seed.kelurahan", &n.to_string())
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("First run: {n} kelurahan of Kota Bekasi (12 kecamatan) seeded from shared/data/bekasi_wilayah.csv.");
        }
        Ok(())
    })
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let store = EmbeddedStore::open(&dir)
        .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?;
    seed(&store, &rt)?;
    let secret = datadir::token_secret(&dir)?;
    let verifier = TokenVerifier::new(&secret).map_err(|e| e.to_string())?;
    let store = Arc::new(store);
    let deps = Arc::new(Deps {
        requests: store.clone(),
        idempotency: store.clone(),
        registry: store.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        policy: Policy {
            target_max_desil: args.target_max_desil,
            cooldown_days: args.cooldown_days,
        },
    });
    let app = app(deps, verifier);
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        print_banner(addr, &dir);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server failed: {e}"))
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
