//! Every sample in `events/` is valid JSON and is driven through its function by some test:
//! a sample nobody exercises would drift from what the handlers accept.

use std::path::Path;

fn sources_under(dir: &Path) -> String {
    dmslake_tests::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_sample_event_is_json_and_named_by_a_test() {
    let repo = dmslake_tests::repo_dir();
    let events = dmslake_tests::files_under(&repo.join("events"));
    assert!(!events.is_empty(), "no sample events found");
    let mut tests = sources_under(&repo.join("tests/tests"));
    for crate_dir in ["functions", "cli"] {
        tests.push_str(&sources_under(&repo.join(crate_dir)));
    }
    let this_file = include_str!("events_catalog.rs");
    let mut orphans = Vec::new();
    for path in &events {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            name.ends_with(".json"),
            "{}: events/ holds only .json samples",
            path.display()
        );
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        assert!(
            value.is_object(),
            "{}: an event is a JSON object",
            path.display()
        );
        let quoted = format!("\"{name}\"");
        let mentioned = tests.matches(&quoted).count() - this_file.matches(&quoted).count();
        if mentioned == 0 {
            orphans.push(name);
        }
    }
    assert!(
        orphans.is_empty(),
        "sample events no test drives: {orphans:?}"
    );
}
