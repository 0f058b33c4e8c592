//! The local Athena's Athena → Trino translation table, row by row
//! (`tools/athena-local/tests/test_translate.py`, Python's unittest in the project's `.venv`).
//! Needs no running service; `tests/tests/athena_local.rs` runs the same forms on Trino.

use std::process::Command;

#[test]
fn athena_statements_translate_to_trino_as_documented() {
    let repo = dmslake_tests::repo_dir();
    let python = repo.join(".venv/bin/python");
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(repo.join("tools/athena-local/tests"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make setup`)", python.display()));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    // unittest prints "Ran N tests": make sure cases actually ran.
    assert!(
        report.contains("Ran ") && !report.contains("Ran 0 tests"),
        "{report}"
    );
}
