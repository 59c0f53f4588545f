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

/// A NIK twice in one file: the later row is reported (`NIK ganda (sama dengan baris M)`) and
/// not loaded, so that a second import changes nothing (no "diperbarui" on every run); a row
/// with more or fewer cells than the header is reported as such, not as a bad desil.
#[test]
fn a_duplicate_nik_and_a_row_of_the_wrong_width_are_reported_as_such() {
    let dir = TempDir::new().expect("data folder");
    let file = dir.path().join("dtks.csv");
    std::fs::write(
        &file,
        "nik,kk,nama,kelurahan_code,desil\r\n\
         3275014508750001,3275011203100001,Siti Rahmawati,32.75.01.1001,1\r\n\
         3275011207680002,3275011203100002,Ahmad Suryadi,32.75.01.1002,2\r\n\
         3275014508750001,3275011203100009,Siti R.,32.75.01.1001,3\r\n\
         3275025603820001,3275021508120001,Dewi, Lestari,32.75.02.1001,3\r\n\
         3275022109790003,3275021508120002,Budi Santoso,32.75.02.1002\r\n",
    )
    .unwrap();
    let data = TempDir::new().expect("data folder");
    for run in 0..2 {
        let out = import_registry(data.path(), &file);
        assert_eq!(
            out.code(),
            SOME_ROWS_REFUSED,
            "{}{}",
            out.stdout,
            out.stderr
        );
        let line = |n: u64| {
            out.stderr
                .lines()
                .find(|l| l.trim().starts_with(&format!("baris {n}:")))
                .unwrap_or_else(|| panic!("no report of line {n}: {}", out.stderr))
                .trim()
                .to_string()
        };
        assert_eq!(line(4), "baris 4: NIK ganda (sama dengan baris 2)");
        assert!(
            line(5).contains("6 kolom") && line(5).contains("header 5"),
            "{}",
            line(5)
        );
        assert!(line(6).contains("hanya 4 kolom"), "{}", line(6));
        assert!(
            !out.stderr.contains("desil"),
            "no bad desil reported: {}",
            out.stderr
        );
        let (new, updated, unchanged) = if run == 0 { (2, 0, 0) } else { (0, 0, 2) };
        assert_eq!(
            count_before(&out.stdout, "baru"),
            Some(new),
            "run {run}: {}",
            out.stdout
        );
        assert_eq!(
            count_before(&out.stdout, "diperbarui"),
            Some(updated),
            "run {run}: {}",
            out.stdout
        );
        assert_eq!(
            count_before(&out.stdout, "tidak berubah"),
            Some(unchanged),
            "run {run}: {}",
            out.stdout
        );
    }
}

/// Files that cannot be imported at all say why and how to fix them, and load nothing.
#[test]
fn empty_header_only_and_non_utf8_files_get_a_clear_message() {
    let dir = TempDir::new().expect("folder");
    let data = TempDir::new().expect("data folder");
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty.csv", Vec::new(), "berkas kosong"),
        ("header.csv", b"nik,kk,nama,kelurahan_code,desil\r\n".to_vec(), "hanya berisi header"),
        (
            "ansi.csv",
            b"nik;kk;nama;kelurahan_code;desil\r\n3275014508750001;3275011203100001;Ren\xE9;32.75.01.1001;1\r\n".to_vec(),
            "bukan UTF-8",
        ),
        (
            "unicode.txt",
            [&b"\xFF\xFE"[..], &"nik\tkk\r\n".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>()].concat(),
            "UTF-16",
        ),
    ];
    for (name, bytes, says) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = import_registry(data.path(), &file);
        assert_ne!(out.code(), 0, "{name}: {}", out.stdout);
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        if says.contains("UTF") {
            assert!(
                out.stderr.contains("CSV UTF-8"),
                "{name} says how to save it: {}",
                out.stderr
            );
        }
        assert!(
            !out.stdout.contains("baru"),
            "{name}: nothing loaded: {}",
            out.stdout
        );
    }
}
