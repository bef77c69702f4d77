//! The group-sync example end to end: an Okta sandbox feeds a Bitbucket Data Center and
//! an Atlassian-profile SCIM sandbox. The plan gives every sourced change its reason;
//! applying it leaves nothing to do and records what the source gave; someone joining
//! and leaving the source group is followed by the next plan, past the shrink limit
//! only when let through; a source that cannot be read, or an empty source group, fails
//! the plan without removing anyone; a saved plan refuses a source that moved since.

use crate::common;

use std::path::{Path, PathBuf};

fn example() -> (tempfile::TempDir, PathBuf) {
    common::example("group-sync")
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    common::run_in(dir, args)
}

/// Edits the example's Okta state as an administrator would.
fn edit_okta(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("../sandbox/okta.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

/// `ken` joins Backend, `erin` leaves it, `quinn` is deprovisioned, `oscar` is deleted.
fn join_and_leave(text: String) -> String {
    let text = text.replace(
        "members: [alice@northwind.example, erin@northwind.example,",
        "members: [alice@northwind.example, ken@northwind.example,",
    );
    let text = text.replace(
        "  - id: 00u17quinn0000000000\n",
        "  - id: 00u17quinn0000000000\n    status: DEPROVISIONED\n",
    );
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("  - id: 00u15oscar") {
            lines.next(); // his profile
            continue;
        }
        out.push(line.replace("oscar@northwind.example, ", ""));
    }
    out.join("\n") + "\n"
}

#[test]
fn the_plan_follows_the_source_and_says_why() {
    let (_tmp, dir) = example();
    let (code, text, stderr) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("source okta: 33 people (1 inactive) in 7 requests"),
        "{stderr}"
    );
    assert!(
        text.contains("  + bitbucket.user[\"ivan\"]  (from okta (00u09ivan00000000000))"),
        "{text}"
    );
    assert!(text.contains("  + bitbucket.group[\"backend\"].member[\"ivan\"]  (in okta:Backend)"));
    assert!(text.contains("  - bitbucket.group[\"backend\"].member[\"bob\"]  (not in okta:Backend)"));
    // Declared in part (an older username), completed by the source.
    assert!(text.contains("  + bitbucket.group[\"platform\"].member[\"aliddell\"]  (in okta:SRE)"));
    // By hand: no reason from a source.
    assert!(text.contains("  + bitbucket.group[\"backend\"].member[\"zed\"]\n"));
    // Suspended in Okta: no account; filtered out (Sales): not a person.
    assert!(!text.contains("user[\"frank\"]"));
    assert!(!text.contains("user[\"hana\"]"));
    // The same inputs give the same bytes, in every format.
    for format in ["--json", "--markdown"] {
        let (_, first, _) = run(&dir, &["plan", format]);
        assert_eq!(first, run(&dir, &["plan", format]).1, "{format}");
    }
    let (_, json, _) = run(&dir, &["plan", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["sources"]["groups"]["okta:Backend"]["now"], 8);
    assert_eq!(doc["sources"]["people"].as_object().map(|p| p.len()), Some(33));
}

#[test]
fn joiners_and_leavers_are_followed_within_the_policy() {
    let (_tmp, dir) = example();
    let (code, _, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(dir.join(".rollcall/sources.json").is_file());
    let (code, _, stderr) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{stderr}");

    edit_okta(&dir, join_and_leave);
    let (code, text, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        text.contains("  + bitbucket.group[\"backend\"].member[\"ken\"]  (in okta:Backend)"),
        "{text}"
    );
    assert!(text.contains("  - bitbucket.group[\"backend\"].member[\"erin\"]  (not in okta:Backend)"));
    assert!(text.contains(
        "  - bitbucket.group[\"backend\"].member[\"quinn\"]  (user `quinn` is inactive: from okta (00u17quinn0000000000, DEPROVISIONED))"
    ));
    assert!(text.contains("  - bitbucket.group[\"platform\"].member[\"oscar\"]  (user `oscar` is inactive: left okta)"));
    assert!(text.contains("  ~ directory.user[\"oscar\"]  (deactivated: left okta)"));
    assert!(stderr.contains(
        "group `backend` on bitbucket would lose 2 of its 9 members (23%), past policy.sources.max_shrink_percent (20%); it follows okta:Backend"
    ));
    assert!(stderr.contains("--allow-source-shrink backend"), "{stderr}");
    // Nothing ran: apply refuses the same way.
    let (code, _, _) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(3));

    let (code, _, stderr) = run(&dir, &["apply", "--auto-approve", "--allow-source-shrink", "backend"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{stderr}");
    // The leaver stays in the record, inactive, so stays offboarded; nobody was deleted.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".rollcall/sources.json")).unwrap()).unwrap();
    assert_eq!(record["people"]["oscar"]["active"], false);
    assert_eq!(record["people"]["oscar"]["from"], "left okta");
    let bitbucket = std::fs::read_to_string(dir.join("../sandbox/bitbucket.yaml")).unwrap();
    assert!(bitbucket.contains("oscar"), "oscar's account stays");
}

#[test]
fn a_source_that_fails_or_answers_empty_removes_nobody() {
    let (_tmp, dir) = example();
    let (code, _, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{stderr}");
    let okta = dir.join("../sandbox/okta.yaml");
    let before = std::fs::read_to_string(&okta).unwrap();

    // Every request to Okta answered 503: the plan fails, naming the source.
    std::fs::write(&okta, format!("{before}faults: {{ seed: 1, unavailable: 1.0 }}\n")).unwrap();
    let (code, _, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot read the identity sources"), "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
    assert!(stderr.contains("never taken for an empty one"), "{stderr}");

    // Security comes back empty: refused, whatever its size.
    let emptied = before.replace(
        "members: [cyrus@northwind.example, dana@northwind.example, eli@northwind.example, fatima@northwind.example, gus@northwind.example]",
        "members: []",
    );
    std::fs::write(&okta, emptied).unwrap();
    let (code, _, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("source group okta:Security came back empty; it gave 5 people at the last apply"),
        "{stderr}"
    );

    // A group the manifest names that Okta does not have is an error, not an empty group.
    std::fs::write(&okta, before.replace("name: Security", "name: SecOps")).unwrap();
    let (code, _, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Security"), "{stderr}");
}

#[test]
fn a_saved_plan_refuses_a_source_that_moved_and_names_who() {
    let (_tmp, dir) = example();
    let (code, _, stderr) = run(&dir, &["plan", "--out", "plan.json"]);
    assert_eq!(code, Some(0), "{stderr}");
    edit_okta(&dir, |t| {
        t.replace(
            "members: [bob@northwind.example,",
            "members: [bob@northwind.example, ken@northwind.example,",
        )
    });
    let (code, _, stderr) = run(&dir, &["apply", "plan.json"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("the identity sources give something else than when the plan was made"),
        "{stderr}"
    );
    assert!(stderr.contains("ken (changed in the sources)"), "{stderr}");
}

#[test]
fn sources_prints_the_expansion_without_touching_a_target() {
    let (_tmp, dir) = example();
    let bitbucket = std::fs::read_to_string(dir.join("../sandbox/bitbucket.yaml")).unwrap();
    let (code, text, stderr) = run(&dir, &["sources"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        text.contains("Source okta (okta, sandbox:../sandbox/okta.yaml): 33 people, 1 inactive; 7 requests"),
        "{text}"
    );
    assert!(text.contains("Hana Sato (00u34hana00000000000): department `Sales` is not selected"));
    assert!(text.contains("  platform <- okta:Platform (7), okta:SRE (8): 15 members"));
    let (code, json, _) = run(&dir, &["sources", "--json"]);
    assert_eq!(code, Some(0));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        doc["sources"]["okta"]["people"]["alice"]["email"],
        "alice@northwind.example"
    );
    assert_eq!(doc["groups"]["backend"]["follows"]["okta:Backend"], 8);
    assert_eq!(
        std::fs::read_to_string(dir.join("../sandbox/bitbucket.yaml")).unwrap(),
        bitbucket
    );
    // validate reads no source and says so.
    let (code, text, _) = run(&dir, &["validate"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("Identity sources were not read"), "{text}");
}
