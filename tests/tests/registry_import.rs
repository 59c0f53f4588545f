//! `basoka registry import` with the sample DTKS/DTSEN export shipped in
//! `tests/data/registry-sample.csv` (the README walk-through uses it): Excel's UTF-8 BOM, CRLF
//! line ends and a quoted name with a comma load; the three bad rows at the end are reported
//! on stderr with their line numbers and exit code 3; importing the same file again changes
//! nothing; and the server then finds the loaded households.

use std::collections::BTreeSet;

use basoka_tests::*;

/// Exit code of `basoka registry import` when some rows were refused.
const SOME_ROWS_REFUSED: i32 = 3;

/// The line numbers of the `baris N: …` reports on stderr.
fn reported_lines(stderr: &str) -> BTreeSet<u64> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("baris "))
        .filter_map(|rest| rest.split(':').next()?.trim().parse().ok())
        .collect()
}

#[tokio::test]
async fn the_sample_registry_imports_reports_bad_rows_and_reimports_as_a_no_op() {
    let sample = data_file("registry-sample.csv");
    let bytes = std::fs::read(&sample).expect("tests/data/registry-sample.csv");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "the sample has a BOM");
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the sample has CRLF"
    );

    let dir = TempDir::new().expect("data folder");
    let first = import_registry(dir.path(), &sample);
    assert_eq!(
        first.code(),
        SOME_ROWS_REFUSED,
        "some rows refused: stdout {} stderr {}",
        first.stdout,
        first.stderr
    );
    assert_eq!(
        reported_lines(&first.stderr),
        BTreeSet::from([22, 23, 24]),
        "the three bad rows, by line number: {}",
        first.stderr
    );
    let line = |n: u64| {
        first
            .stderr
            .lines()
            .find(|l| l.trim().starts_with(&format!("baris {n}:")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line(22).contains("nik"), "{}", line(22));
    assert!(line(23).contains("nik"), "{}", line(23));
    assert!(line(24).contains("desil"), "{}", line(24));
    assert_eq!(
        count_before(&first.stdout, "baru"),
        Some(20),
        "{}",
        first.stdout
    );
    assert_eq!(
        count_before(&first.stdout, "diperbarui"),
        Some(0),
        "{}",
        first.stdout
    );

    let second = import_registry(dir.path(), &sample);
    assert_eq!(second.code(), SOME_ROWS_REFUSED, "{}", second.stderr);
    assert_eq!(reported_lines(&second.stderr), BTreeSet::from([22, 23, 24]));
    assert_eq!(
        count_before(&second.stdout, "baru"),
        Some(0),
        "{}",
        second.stdout
    );
    assert_eq!(
        count_before(&second.stdout, "diperbarui"),
        Some(0),
        "{}",
        second.stdout
    );

    // The server finds what was loaded: the first row (right after the BOM header), the
    // quoted name with a comma, and not the refused desil-11 row.
    let s = Server::start_in(dir);
    let kel = s.kelurahan_token(KEL_A);
    for (nik, kk, desil) in [
        ("3275014508750001", "3275011203100001", 1),
        ("3275036101900002", "3275030102150001", 4),
        ("3275106203870002", "3275101705140001", 10),
    ] {
        let r = s.submit_ok(&kel, &submit_body_with(KEL_A, nik, kk)).await;
        assert_eq!(
            r["registry"],
            json!({"found": true, "desil": desil}),
            "{nik}"
        );
    }
    let refused = s
        .submit_ok(
            &kel,
            &submit_body_with(KEL_A, "3275011808810001", "3275011203100005"),
        )
        .await;
    assert_eq!(refused["registry"]["found"], false);
    assert!(
        refused["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("not_in_registry"))
    );
}
