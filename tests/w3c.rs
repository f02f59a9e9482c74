//! The W3C SCXML 1.0 conformance suite (ECMAScript profile) as one integration test.
//!
//! It runs the whole suite through `scxml_runtime::conformance` (the same runner as
//! `scxml w3c`) on both hosts, the CLI's `LocalRuntime` and the server, prints the report,
//! and fails on any test that does not pass on both and is not in [`KNOWN_FAILURES`]. The suite is read from `$SCXML_W3C_DIR` or `../shared/w3c-scxml`; when
//! it is not there the test says so and passes.

use scxml_runtime::conformance::{run_suite, SuiteOptions};

/// Tests allowed to fail, each with the reason. Keep it short and explained; a test that
/// starts passing is reported so it can be taken off.
const KNOWN_FAILURES: &[(u32, &str)] = &[];

#[test]
fn w3c_conformance_suite() {
    let options = SuiteOptions::default();
    if !options.dir.join("tests.tsv").is_file() {
        eprintln!(
            "skipping the W3C suite: {} has no tests.tsv (set SCXML_W3C_DIR)",
            options.dir.display()
        );
        return;
    }
    let report = run_suite(&options).expect("the suite's tests.tsv is readable");
    println!("{report}");

    let known = |id: u32| KNOWN_FAILURES.iter().any(|(k, _)| *k == id);
    for (id, why) in KNOWN_FAILURES {
        if report.result(*id).is_some_and(|r| !r.verdict.is_failure()) {
            println!("test{id} passes now; take it off KNOWN_FAILURES ({why})");
        }
    }
    let unexpected: Vec<String> = report
        .failures()
        .filter(|r| !known(r.case.id))
        .filter_map(|r| r.line())
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} unexpected failure(s):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
