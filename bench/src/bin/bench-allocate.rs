//! `bench-allocate`: 1,000 concurrent allocations against stock for 500 packages on the
//! embedded store.
//!
//! Target (from the issues): "1,000 concurrent approvals against stock for 500 must give
//! exactly 500 allocated and 500 waitlisted, at 2,000 or more allocations a second on the
//! embedded store".
//!
//! ```text
//! cargo run --release -p basoka-bench --bin bench-allocate -- [--requests 1000] [--packages 500] [--runs 3]
//! ```
//!
//! Each run, untimed: a fresh `EmbeddedStore` in a temporary folder; the seed items and the
//! package `PAKET-SEMBAKO`; two stock receipts (through `shared::fulfilment::receive`, as the
//! gudang) that together hold exactly `--packages` packages of every item, in two lots per
//! item with different expiry dates; `--requests` requests taken to `approved` through the
//! real use cases (`submit`, `assign_survey`, `record_survey`, `decide`). Timed: one tokio
//! task per request calling `shared::fulfilment::allocate`, all released together on a
//! multi-thread runtime, until the last one returns. Then the store is checked: outcomes,
//! statuses as stored, allocations and shipments, every lot (allocated ≤ on hand, nothing
//! left available), the ledger (its sums equal the lots) and the low-stock alerts (exactly one
//! `StockLow` per item that ended below its threshold, though hundreds of concurrent
//! allocations took part in each fall).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basoka_bench::households::{KELURAHAN, submit_body};
use basoka_bench::stats::{Latency, ms};
use basoka_bench::sys;
use basoka_embedded::EmbeddedStore;
use clap::Parser;
use serde_json::{Value, json};
use shared::events::EventKind;
use shared::fulfilment::{self, AllocationOutcome, FulfilDeps};
use shared::fulfilment_ports::{
    AllocationStatus, LedgerEntry, ReceiptRef, ShipmentStatus, StockStore, StockWrite,
};
use shared::policy::Policy;
use shared::ports::{Clock, Deps, Ids, ListQuery, Outbox, RandomIds, RequestStore, SystemClock};
use shared::request::ActorRef;
use shared::stock::{self, DEFAULT_PACKAGE, Movement, WarehouseCode};
use shared::usecases;
use shared::{AppError, Caller, KelurahanCode, RequestId, Role, Status};
use tokio::sync::Barrier;

/// Target: allocations per second in the timed phase.
const TARGET_RATE: f64 = 2_000.0;

#[derive(Parser, Debug)]
#[command(about = "Concurrent allocations against limited stock on the embedded store")]
struct Args {
    /// Approved requests allocated concurrently.
    #[arg(long, default_value_t = 1_000)]
    requests: usize,
    /// Packages of stock received (every item, exactly).
    #[arg(long, default_value_t = 500)]
    packages: u64,
    /// Independent runs, each on a fresh store.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker threads of the runtime (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// mimalloc instead of the system allocator: as `basoka serve` runs (see cli/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.requests == 0 || args.runs == 0 || args.packages == 0 {
        eprintln!("bench-allocate: --requests, --packages and --runs must be positive");
        return ExitCode::from(2);
    }
    // The runtime `basoka serve` runs the store on (its blocking pool sized the same way).
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.max_blocking_threads(basoka_embedded::blocking_threads());
    if let Some(t) = args.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.enable_all().build().expect("runtime");
    println!("bench-allocate — concurrent allocation on the embedded store");
    println!(
        "  machine: {} cores ({}), load average {} at start, {}",
        sys::cores(),
        sys::cpu_model(),
        sys::loadavg(),
        sys::now()
    );
    println!(
        "  {} approved requests, stock for exactly {} packages of {DEFAULT_PACKAGE}, {} run(s), runtime workers: {}",
        args.requests,
        args.packages,
        args.runs,
        args.threads
            .map_or_else(|| format!("{} (default)", sys::cores()), |t| t.to_string())
    );
    let mut rates = Vec::new();
    let mut all_exact = true;
    for run in 1..=args.runs {
        match rt.block_on(one_run(&args, run)) {
            Ok(r) => {
                rates.push(r.rate);
                all_exact &= r.exact;
            }
            Err(e) => {
                eprintln!("bench-allocate: run {run}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let min = rates[0];
    let rate_ok = median >= TARGET_RATE;
    println!("\nresult");
    println!(
        "  exactly {} allocated and {} waitlisted, stock and ledger consistent, in every run: {}",
        args.packages,
        args.requests as u64 - args.packages.min(args.requests as u64),
        verdict(all_exact)
    );
    println!(
        "  allocations/s: median {median:.0}, min {min:.0} over {} run(s) (target ≥ {TARGET_RATE:.0}, on the median): {}",
        rates.len(),
        verdict(rate_ok)
    );
    println!(
        "  overall: {}   (load average {} at the end)",
        verdict(all_exact && rate_ok),
        sys::loadavg()
    );
    if all_exact && rate_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

struct RunResult {
    rate: f64,
    exact: bool,
}

fn caller(sub: &str, role: Role, kelurahan: Option<&str>) -> Caller {
    Caller {
        sub: sub.into(),
        name: sub.into(),
        role,
        kelurahan: kelurahan.map(|k| KelurahanCode::parse(k).expect("a known kelurahan")),
        phone: None,
    }
}

fn err<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

/// Submits request `n` and takes it to `approved` through the real use cases.
async fn approved_request(deps: &Deps, n: u64) -> Result<RequestId, String> {
    let kelurahan = caller("kelurahan-bench", Role::Kelurahan, Some(KELURAHAN));
    let dinas = caller("dinas-bench", Role::Dinas, None);
    let surveyor = caller("surveyor-bench", Role::Surveyor, None);
    let submitted = usecases::submit(deps, &kelurahan, None, &submit_body(n))
        .await
        .map_err(err("submit"))?;
    let view: Value = serde_json::from_str(&submitted.body).map_err(err("submit answer"))?;
    let id = view["id"]
        .as_str()
        .ok_or("submit answer without id")?
        .to_string();
    usecases::assign_survey(deps, &dinas, &id, &json!({"surveyor": "surveyor-bench"}))
        .await
        .map_err(err("assign_survey"))?;
    let visited = chrono::Utc::now().to_rfc3339();
    usecases::record_survey(
        deps,
        &surveyor,
        &id,
        &json!({
            "visited_at": visited,
            "findings": "Rumah dikunjungi; persediaan pangan habis.",
            "members_verified": 4,
            "recommendation": "approve"
        }),
    )
    .await
    .map_err(err("record_survey"))?;
    let decided = usecases::decide(
        deps,
        &dinas,
        &id,
        &json!({
            "decision": "approve",
            "reason": "Memenuhi syarat bantuan darurat.",
            "package_code": DEFAULT_PACKAGE,
            "packages": 1,
            "delivery": "kelurahan"
        }),
    )
    .await
    .map_err(err("decide"))?;
    if decided.status != Status::Approved {
        return Err(format!(
            "request {id} is {:?} after approval",
            decided.status
        ));
    }
    RequestId::parse(&id).map_err(err("request id"))
}

/// What `receive` writes for a receipt of `packages` packages of `package` expiring on
/// `expires`: one lot per line, each created by its `Receipt` ledger entry, and the guard of
/// its delivery note, all or nothing.
async fn receive_directly(
    deps: &FulfilDeps,
    caller: &Caller,
    warehouse: &WarehouseCode,
    reference: &str,
    package: &shared::stock::Package,
    packages: u64,
    expires: String,
) -> Result<(), String> {
    let now = deps.clock.now();
    let expires = chrono::NaiveDate::parse_from_str(&expires, "%Y-%m-%d").map_err(err("date"))?;
    let actor = ActorRef::of(caller);
    let ledger = package
        .lines
        .iter()
        .map(|l| {
            LedgerEntry::new(
                deps.ids.uuid(),
                now,
                warehouse,
                &deps.ids.uuid(),
                &l.sku,
                Some(expires),
                Movement::Receipt,
                (l.quantity.get() * packages) as i64,
                &actor,
                "penerimaan barang",
                reference,
            )
        })
        .collect();
    deps.stock
        .apply(StockWrite {
            ledger,
            receipt: Some(ReceiptRef {
                warehouse: warehouse.clone(),
                reference: reference.to_string(),
                received_at: now,
            }),
            ..StockWrite::default()
        })
        .await
        .map_err(err("apply receipt"))
}

async fn count_status(store: &EmbeddedStore, status: Status) -> Result<usize, String> {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = RequestStore::list(
            store,
            &ListQuery {
                kelurahan: None,
                status: Some(status),
                created_from: None,
                created_before: None,
                limit: 100,
                cursor,
            },
        )
        .await
        .map_err(err("list"))?;
        n += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

async fn one_run(args: &Args, run: usize) -> Result<RunResult, String> {
    // ---- setup (not timed) ----
    let setup_started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("basoka-bench-allocate-")
        .tempdir()
        .map_err(err("temporary folder"))?;
    let store = EmbeddedStore::open(tmp.path()).map_err(err("open store"))?;
    let shared_store = Arc::new(store.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn Ids> = Arc::new(RandomIds);
    let stock_port: Arc<dyn StockStore> = shared_store.clone();
    let deps = Arc::new(Deps {
        requests: shared_store.clone(),
        idempotency: shared_store.clone(),
        registry: shared_store.clone(),
        submit_reads: shared_store.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        policy: Policy::default(),
        catalog: Some(stock_port.clone()),
    });
    let warehouse = WarehouseCode::default_warehouse();
    let fulfil = Arc::new(FulfilDeps {
        requests: shared_store.clone(),
        stock: stock_port.clone(),
        allocation_reads: shared_store.clone(),
        idempotency: shared_store.clone(),
        clock: clock.clone(),
        ids,
        warehouses: vec![warehouse.clone()],
    });
    for item in stock::seed_items() {
        stock_port.put_item(&item).await.map_err(err("put_item"))?;
    }
    let package = stock::seed_package(clock.now());
    stock_port
        .put_package(&package)
        .await
        .map_err(err("put_package"))?;

    // Exactly `packages` packages of every item, in two receipts (two lots per item): the
    // earlier-expiring lot holds two fifths, so FEFO moves to the second lot part-way.
    let gudang = caller("gudang-bench", Role::Gudang, None);
    let today = chrono::Utc::now().date_naive();
    let first = args.packages * 2 / 5;
    for (reference, packages, days) in [
        ("BENCH-1", first, 90),
        ("BENCH-2", args.packages - first, 180),
    ] {
        if packages == 0 {
            continue;
        }
        let expires = (today + chrono::Duration::days(days))
            .format("%Y-%m-%d")
            .to_string();
        let lines: Vec<Value> = package
            .lines
            .iter()
            .map(|l| {
                json!({"sku": l.sku.as_str(), "quantity": l.quantity.get() * packages, "expires_on": expires})
            })
            .collect();
        let body = json!({"warehouse": warehouse.as_str(), "reference": reference, "lines": lines});
        match fulfilment::receive(&fulfil, &gudang, None, &body).await {
            Ok(answer) if answer.status == 201 => {}
            Ok(answer) => return Err(format!("receive answered {}", answer.status)),
            // `receive` reads its lines at paths `lines[n].sku`, which `shared::input::Input`
            // does not resolve (it splits paths on `.` only), so every valid receipt is refused
            // with FIELD_REQUIRED. Until that is fixed, write exactly what `receive` would
            // have written (one Receipt ledger entry per line, creating its lot) and say so.
            Err(AppError::Validation(v)) if v.iter().all(|e| e.field.starts_with("lines[")) => {
                if run == 1 && reference == "BENCH-1" {
                    println!(
                        "  NOTE: shared::fulfilment::receive refused a valid receipt ({} x FIELD_REQUIRED at lines[n].*: Input does not resolve indexed paths); stock is written with the equivalent StockWrite instead",
                        v.len()
                    );
                }
                receive_directly(
                    &fulfil, &gudang, &warehouse, reference, &package, packages, expires,
                )
                .await?;
            }
            Err(e) => return Err(format!("receive: {e:?}")),
        }
    }

    // The approved requests, 50 at a time (group commit makes that quicker than one by one).
    let mut ids_approved = Vec::with_capacity(args.requests);
    let base = (run as u64) * 1_000_000;
    let mut next = 0usize;
    while next < args.requests {
        let mut set = tokio::task::JoinSet::new();
        for n in next..(next + 50).min(args.requests) {
            let deps = deps.clone();
            set.spawn(async move { approved_request(&deps, base + n as u64).await });
        }
        while let Some(r) = set.join_next().await {
            ids_approved.push(r.map_err(err("setup task"))??);
        }
        next += 50;
    }
    let setup = setup_started.elapsed();

    // ---- timed: every allocation at once ----
    let n = ids_approved.len();
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for id in &ids_approved {
        let (id, fulfil, barrier) = (id.clone(), fulfil.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = Instant::now();
            let outcome = fulfilment::allocate(&fulfil, &id).await;
            (outcome, t.elapsed())
        }));
    }
    let cpu_before = sys::own_cpu();
    let started = Instant::now();
    barrier.wait().await;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut latencies: Vec<Duration> = Vec::with_capacity(n);
    let (mut allocated, mut waitlisted, mut other) = (0usize, 0usize, 0usize);
    for t in tasks {
        let (outcome, latency) = t.await.map_err(err("allocation task"))?;
        latencies.push(latency);
        match outcome {
            Ok(AllocationOutcome::Allocated) => allocated += 1,
            Ok(AllocationOutcome::Waitlisted) => waitlisted += 1,
            Ok(o) => {
                other += 1;
                *outcomes.entry(format!("{o:?}")).or_insert(0) += 1;
            }
            Err(e) => {
                other += 1;
                *outcomes.entry(format!("error: {e:?}")).or_insert(0) += 1;
            }
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_before
        .zip(sys::own_cpu())
        .map(|(a, b)| b.saturating_sub(a));
    let rate = allocated as f64 / wall.as_secs_f64();
    let latency = Latency::of(&mut latencies);

    // ---- checks (not timed) ----
    let stored_allocated = count_status(&store, Status::Allocated).await?;
    let stored_waitlisted = count_status(&store, Status::Waitlisted).await?;
    let stored_approved = count_status(&store, Status::Approved).await?;
    let mut active_allocations = 0usize;
    for id in &ids_approved {
        if let Some(a) = stock_port.allocation(id).await.map_err(err("allocation"))?
            && a.status == AllocationStatus::Active
        {
            active_allocations += 1;
        }
    }
    let mut ready_shipments = 0usize;
    let mut cursor = None;
    loop {
        let page = stock_port
            .shipments(Some(ShipmentStatus::Ready), 100, cursor)
            .await
            .map_err(err("shipments"))?;
        ready_shipments += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let lots = stock_port
        .lots(&warehouse, None)
        .await
        .map_err(err("lots"))?;
    // One low-stock alert per item that ended below its threshold, however many of the
    // concurrent allocations took part in the fall.
    let mut alerts: BTreeMap<String, usize> = BTreeMap::new();
    for o in Outbox::pending(&store, "bench", 1_000_000)
        .await
        .map_err(err("outbox"))?
    {
        if let EventKind::StockLow { sku, .. } = o.event.kind {
            *alerts.entry(sku).or_insert(0) += 1;
        }
    }
    let thresholds: BTreeMap<String, u64> = stock::seed_items()
        .into_iter()
        .map(|i| (i.sku.as_str().to_string(), i.low_threshold))
        .collect();
    let mut stock_ok = true;
    let mut stock_lines = Vec::new();
    let expect_allocated = args.packages.min(n as u64);
    for line in &package.lines {
        let mine: Vec<_> = lots.iter().filter(|l| l.sku == line.sku).collect();
        let on_hand: u64 = mine.iter().map(|l| l.on_hand).sum();
        let held: u64 = mine.iter().map(|l| l.allocated).sum();
        let available: u64 = mine.iter().map(|l| l.available()).sum();
        let lots_ok = mine.iter().all(|l| l.allocated <= l.on_hand);
        let mut ledger = Vec::new();
        let mut cursor = None;
        loop {
            let page = stock_port
                .ledger(&warehouse, &line.sku, 100, cursor)
                .await
                .map_err(err("ledger"))?;
            ledger.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let ledger_on_hand: i64 = ledger.iter().map(|e| e.delta_on_hand).sum();
        let ledger_allocated: i64 = ledger.iter().map(|e| e.delta_allocated).sum();
        let threshold = thresholds.get(line.sku.as_str()).copied().unwrap_or(0);
        let told = alerts.get(line.sku.as_str()).copied().unwrap_or(0);
        let expect_told = usize::from(threshold > 0 && available < threshold);
        let ok = lots_ok
            && told == expect_told
            && on_hand == line.quantity.get() * args.packages
            && held == line.quantity.get() * expect_allocated
            && (expect_allocated < args.packages || available == 0)
            && ledger_on_hand == on_hand as i64
            && ledger_allocated == held as i64;
        stock_ok &= ok;
        stock_lines.push(format!(
            "    {:<15} lots {}  on hand {:>5}  allocated {:>5}  available {:>4}  ledger Σon hand {:>5} Σallocated {:>5}  lots never below zero: {}  low-stock alerts {told} (expected {expect_told})  {}",
            line.sku.as_str(),
            mine.len(),
            on_hand,
            held,
            available,
            ledger_on_hand,
            ledger_allocated,
            if lots_ok { "yes" } else { "NO" },
            if ok { "ok" } else { "MISMATCH" }
        ));
    }
    let expect_waitlisted = n - expect_allocated as usize;
    let exact = allocated == expect_allocated as usize
        && waitlisted == expect_waitlisted
        && other == 0
        && stored_allocated == allocated
        && stored_waitlisted == waitlisted
        && stored_approved == 0
        && active_allocations == allocated
        && ready_shipments == allocated
        && stock_ok;

    println!(
        "\nrun {run}  (setup {:.1} s untimed: store, catalogue, 2 receipts, {n} requests to approved)",
        setup.as_secs_f64()
    );
    println!(
        "  timed phase    {n} concurrent allocate() calls in {} ms",
        ms(wall)
    );
    println!("  allocations/s  {rate:.0}  ({allocated} allocated / wall time)");
    println!(
        "  decisions/s    {:.0}  (every call, allocated or waitlisted / wall time)",
        n as f64 / wall.as_secs_f64()
    );
    println!(
        "  per call ms    p50 {}  p90 {}  p99 {}  max {}",
        ms(latency.p50),
        ms(latency.p90),
        ms(latency.p99),
        ms(latency.max)
    );
    if let Some(cpu) = cpu {
        println!(
            "  CPU            {:.2} s in the timed phase ({:.0} µs per call)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / n as f64
        );
    }
    println!(
        "  outcomes       Allocated {allocated}, Waitlisted {waitlisted}, other {other} {}",
        if outcomes.is_empty() {
            String::new()
        } else {
            format!("{outcomes:?}")
        }
    );
    println!(
        "  stored         allocated {stored_allocated}, waitlisted {stored_waitlisted}, still approved {stored_approved}; active allocations {active_allocations}; ready shipments {ready_shipments}"
    );
    println!("  stock after (warehouse {}):", warehouse.as_str());
    for l in &stock_lines {
        println!("{l}");
    }
    println!("  exact and consistent: {}", verdict(exact));
    drop(store);
    Ok(RunResult { rate, exact })
}
