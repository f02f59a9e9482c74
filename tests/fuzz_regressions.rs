//! Every input the fuzz targets were seeded with (`fuzz/seeds/<target>/`) and every input
//! that once crashed one (`fuzz/regressions/<target>/`), through the same functions the
//! libFuzzer targets call, on the ordinary toolchain: a crash found once stays fixed.

#[path = "../fuzz/src/apps.rs"]
mod app_targets;
#[path = "../fuzz/src/core.rs"]
mod core_targets;

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 10] = [
    ("document", core_targets::document),
    ("duration", core_targets::duration),
    ("event_descriptor", core_targets::event_descriptor),
    ("target_string", app_targets::target_string),
    ("skill_expression", app_targets::skill_expression),
    ("multi_target", app_targets::multi_target),
    ("form_body", app_targets::form_body),
    ("bayeux", app_targets::bayeux),
    ("sessions_body", app_targets::sessions_body),
    ("config_file", app_targets::config_file),
];

/// Runs every file under `dir/<target>/` through its target; answers how many ran.
fn replay(dir: &Path) -> usize {
    let mut ran = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let input = std::fs::read(entry.path()).unwrap();
            let path = entry.path();
            if let Err(panic) = std::panic::catch_unwind(|| target(&input)) {
                panic!("{name}: {} panics: {panic:?}", path.display());
            }
            ran += 1;
        }
    }
    ran
}

#[test]
fn the_seeds_and_every_input_that_once_crashed_a_target_pass() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = replay(&fuzz.join("seeds"));
    assert!(seeds >= 25, "only {seeds} seeds");
    replay(&fuzz.join("regressions"));
}

#[test]
fn the_w3c_suite_and_the_flows_load_through_the_document_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for dir in [
        root.join("scxml"),
        root.join("scxml/callback"),
        root.join("examples"),
    ] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "scxml") {
                core_targets::document(&std::fs::read(entry.path()).unwrap());
                ran += 1;
            }
        }
    }
    assert!(ran >= 3);
}
