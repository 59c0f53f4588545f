//! `basoka stock receive FILE.csv --reference REF` against the data folder of a running
//! `basoka serve`: the sample delivery note in `tests/data/stock-receipt-sample.csv` (Excel's
//! BOM, `;`, CRLF, a quoted cell holding `;`, two lines of one item and date) is received and
//! `GET /v1/stock` shows it; the same file and reference again change nothing and say so; the
//! bad sample reports every bad line by its number and receives nothing; a reference already
//! received (through the API too) is refused; and a waitlisted request is allocated by the
//! running server after a CSV receipt written by the other process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use basoka_tests::fulfil::*;
use basoka_tests::*;

/// Exit code: bad lines, nothing received.
const REFUSED: i32 = 3;
/// Exit code: the reference was used for another receipt.
const REFERENCE_REUSED: i32 = 4;

fn stock_receive(dir: &Path, file: &Path, reference: &str) -> CmdOutput {
    let mut cmd = basoka_command();
    cmd.args(["stock", "receive"])
        .arg(file)
        .args(["--reference", reference, "--data-dir"])
        .arg(dir);
    run_command(cmd, Duration::from_secs(120), "basoka stock receive")
}

/// Quantity per sku of a `sku;…;jumlah;kedaluwarsa` file (the last two cells are never
/// quoted in the samples; a middle cell may hold `;`).
fn quantities(file: &Path) -> BTreeMap<String, i64> {
    let text = std::fs::read_to_string(file).expect("sample");
    let mut out = BTreeMap::new();
    for line in text.trim_start_matches('\u{feff}').lines().skip(1) {
        let mut cells = line.trim_end_matches('\r').rsplitn(3, ';');
        let (_exp, q, rest) = (cells.next(), cells.next(), cells.next());
        let sku = rest.and_then(|r| r.split(';').next()).expect("sku");
        *out.entry(sku.to_string()).or_insert(0) += q.expect("quantity").parse::<i64>().unwrap();
    }
    out
}

/// The line numbers of the `baris N: …` reports on stderr.
fn reported_lines(stderr: &str) -> BTreeSet<u64> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("baris "))
        .filter_map(|rest| rest.split(':').next()?.trim().parse().ok())
        .collect()
}

fn on_hand(levels: &BTreeMap<String, Value>) -> BTreeMap<String, i64> {
    levels
        .iter()
        .map(|(k, v)| (k.clone(), num(v, "on_hand")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_delivery_note_is_received_once_and_a_bad_one_not_at_all() {
    let sample = data_file("stock-receipt-sample.csv");
    let bytes = std::fs::read(&sample).expect("tests/data/stock-receipt-sample.csv");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "the sample has a BOM");
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the sample has CRLF"
    );
    let expected = quantities(&sample);
    assert!(expected.len() >= 5, "{expected:?}");

    let s = Server::start();
    let c = Cast::new(&s);
    let before = on_hand(&stock(&s, &c.gudang).await);

    let first = stock_receive(s.data_dir(), &sample, "SJ-2026-12-0042");
    assert_eq!(first.code(), 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("Diterima di GUDANG-DINSOS-BKS"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("kg") && first.stdout.contains("kedaluwarsa 2027-12-01"));
    let after = on_hand(&stock(&s, &c.gudang).await);
    for (sku, q) in &expected {
        assert_eq!(
            after[sku] - before[sku],
            *q,
            "{sku} over HTTP after the receipt"
        );
    }
    // Two lines of MIE-INSTAN with one date are one lot, as over the API.
    let mie: Vec<Value> = ledger(&s, &c.gudang, "MIE-INSTAN")
        .await
        .into_iter()
        .filter(|e| e["reference"] == "SJ-2026-12-0042")
        .collect();
    assert_eq!(mie.len(), 1, "{mie:?}");
    assert_eq!(num(&mie[0], "quantity"), expected["MIE-INSTAN"]);

    let again = stock_receive(s.data_dir(), &sample, "SJ-2026-12-0042");
    assert_eq!(again.code(), 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("tidak ada yang berubah"),
        "{}",
        again.stdout
    );
    assert_eq!(
        on_hand(&stock(&s, &c.gudang).await),
        after,
        "again: no change"
    );

    // The bad sample: every bad line (0, -3, 2,5, unknown sku, 31/12/2027, 1.000,
    // 3.275E+3 with an expired date) by its number; its good first line is not received.
    let bad = data_file("stock-receipt-bad.csv");
    let out = stock_receive(s.data_dir(), &bad, "SJ-2026-12-0043");
    assert_eq!(out.code(), REFUSED, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        reported_lines(&out.stderr),
        BTreeSet::from([3, 4, 5, 6, 7, 8, 9]),
        "{}",
        out.stderr
    );
    let line = |n: u64| {
        out.stderr
            .lines()
            .find(|l| l.starts_with(&format!("baris {n}:")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line(3).contains("jumlah") && line(3).contains("positif"),
        "{}",
        line(3)
    );
    assert!(
        line(5).contains("\"2,5\" bukan bilangan bulat"),
        "{}",
        line(5)
    );
    assert!(
        line(6).contains("sku") && line(6).contains("katalog"),
        "{}",
        line(6)
    );
    assert!(
        line(7).contains("kedaluwarsa") && line(7).contains("YYYY-MM-DD"),
        "{}",
        line(7)
    );
    assert!(line(8).contains("\"1.000\""), "{}", line(8));
    assert!(
        line(9).contains("notasi ilmiah") && line(9).contains("sudah kedaluwarsa"),
        "{}",
        line(9)
    );
    assert!(
        out.stderr.contains("Tidak ada yang diterima"),
        "{}",
        out.stderr
    );
    assert_eq!(
        on_hand(&stock(&s, &c.gudang).await),
        after,
        "bad file: nothing received"
    );

    // The same reference with other content; a reference received through the API.
    let other = s.data_dir().join("other.csv");
    std::fs::write(&other, "sku,quantity\nBERAS,7\n").unwrap();
    let reused = stock_receive(s.data_dir(), &other, "SJ-2026-12-0042");
    assert_eq!(
        reused.code(),
        REFERENCE_REUSED,
        "{}{}",
        reused.stdout,
        reused.stderr
    );
    assert!(reused.stderr.contains("sudah dipakai"), "{}", reused.stderr);
    let r = receive(
        &s,
        &c.gudang,
        Some("SJ-HTTP-1"),
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-HTTP-1",
                "lines": [{"sku": "BERAS", "quantity": 7}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let via_api = on_hand(&stock(&s, &c.gudang).await);
    let dup = stock_receive(s.data_dir(), &other, "SJ-HTTP-1");
    assert_eq!(dup.code(), REFERENCE_REUSED, "{}{}", dup.stdout, dup.stderr);
    assert!(dup.stderr.contains("sudah tercatat"), "{}", dup.stderr);
    assert_eq!(on_hand(&stock(&s, &c.gudang).await), via_api, "not twice");
    assert_ledger_matches_stock(&s, &c.gudang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_receipt_from_another_process_serves_the_waitlist_of_the_running_server() {
    let s = Server::start_with(ServeOptions::new().args(&["--no-opening-stock"]));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let id = approved_until(&s, &c, "kelurahan", &["waitlisted"]).await;

    let mut csv = String::from("\u{feff}sku;jumlah;kedaluwarsa\r\n");
    for (sku, q) in &lines {
        csv.push_str(&format!("{sku};{q};2099-12-31\r\n"));
    }
    let file = s.data_dir().join("sj.csv");
    std::fs::write(&file, csv).unwrap();
    let out = stock_receive(s.data_dir(), &file, "SJ-WAITLIST-1");
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    // The server (another process) finds the StockReceived event in the outbox and allocates.
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    for sku in lines.keys() {
        assert_eq!(
            level(&stock(&s, &c.gudang).await, sku).2,
            0,
            "{sku} all allocated"
        );
    }
}

/// The same over DynamoDB on moto: `stock receive --backend aws` writes the receipt and its
/// event into the table; `serve --backend aws` (another process) moves the event to
/// `allocate-stock`, which serves its waitlist; the same command again changes nothing.
/// Needs a moto server (`BASOKA_TEST_AWS_ENDPOINT`; `scripts/test` starts one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_dynamodb_a_csv_receipt_serves_the_waitlist_once() {
    let endpoint = basoka_aws::testkit::endpoint();
    let table = basoka_aws::testkit::unique_table("basoka-stockcsv");
    let backend = [
        "--backend",
        "aws",
        "--endpoint-url",
        endpoint.as_str(),
        "--table",
        table.as_str(),
    ];
    let s = Server::start_with(
        ServeOptions::new()
            .args(&backend)
            .args(&["--create-table", "--no-opening-stock"]),
    );
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let id = approved_until(&s, &c, "kelurahan", &["waitlisted"]).await;

    let mut csv = String::from("sku,quantity,expires_on\r\n");
    for (sku, q) in &lines {
        csv.push_str(&format!("{sku},{q},2099-12-31\r\n"));
    }
    let file = s.data_dir().join("sj.csv");
    std::fs::write(&file, csv).unwrap();
    let receive_aws = || {
        let mut cmd = basoka_command();
        cmd.args(["stock", "receive"])
            .arg(&file)
            .args(["--reference", "SJ-AWS-1", "--data-dir"])
            .arg(s.data_dir())
            .args(backend);
        run_command(
            cmd,
            Duration::from_secs(120),
            "basoka stock receive --backend aws",
        )
    };
    let out = receive_aws();
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    let levels = on_hand(&stock(&s, &c.gudang).await);
    let again = receive_aws();
    assert_eq!(again.code(), 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("tidak ada yang berubah"),
        "{}",
        again.stdout
    );
    assert_eq!(on_hand(&stock(&s, &c.gudang).await), levels);
    for (sku, q) in &lines {
        assert_eq!(levels[sku], *q, "{sku}: one package's worth, received once");
    }
}
