//! Lets `BASOKA_SKIP_AWS_TESTS=1` compile the moto-backed tests out explicitly (they then
//! announce that they were skipped); without it they run and fail loudly when no moto server
//! is given (see `tests/conformance.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(basoka_skip_aws_tests)");
    println!("cargo::rerun-if-env-changed=BASOKA_SKIP_AWS_TESTS");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("BASOKA_SKIP_AWS_TESTS").as_deref() == Ok("1") {
        println!("cargo::rustc-cfg=basoka_skip_aws_tests");
    }
}
