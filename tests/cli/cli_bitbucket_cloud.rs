//! The Bitbucket Cloud example end to end: the Atlassian organization's directory and the
//! workspace on one sandbox. One plan orders the directory's groups and members before the
//! grants that name them, holds what cannot run yet (a person with no account), notes what
//! it leaves out (the workspace owner) and what changes nothing (a repository grant below
//! the project's); applying it leaves only what is held. A group Bitbucket sees late is
//! granted once it does; a group the directory refuses to make skips exactly what waits
//! for it.

use crate::common;

use std::path::{Path, PathBuf};

fn example() -> (tempfile::TempDir, PathBuf) {
    common::example("bitbucket-cloud")
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    common::run_in(dir, args)
}

/// Replaces `from` with `to` in a file of the copied example, once.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_example_plans_directory_first_holds_notes_and_applies_to_only_what_is_held() {
    let (_tmp, dir) = example();
    let (code, text, stderr) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{stderr}");
    // What the read cost, beside the plan: it varies with retries, the plan must not.
    assert!(
        stderr.contains(
            "cloud: reading workspace `fernhill` as Sam Whitlock took 21 requests of the account's 1,000 an hour"
        ),
        "{stderr}"
    );
    // The grant to a group the directory creates, and to a person it gives access.
    assert!(text.contains("  + org.group[\"mobile\"]"));
    assert!(text.contains("  + cloud.project[\"MOB\"].group[\"mobile\"]"));
    assert!(text.contains("  + org.group[\"engineering\"].member[\"kofi\"]"));
    assert!(text.contains("  + cloud.repo[\"MOB/ios-app\"].user[\"kofi\"]"));
    // nadia has no account: held on both, with what to do.
    assert!(text.contains("    + cloud.repo[\"API/gateway\"].user[\"nadia\"]  (`nadia` (nadia@fernhill.example) is not on `cloud`, and `org` cannot provide them yet"));
    assert!(text.contains("    + org.group[\"engineering\"].member[\"nadia\"]"));
    assert!(text.contains("left out of the plan (a create to `admin`): the workspace owner"));
    assert!(text.contains("no effect: group `payments` has `write` on project API"));
    insta::assert_snapshot!("bitbucket_cloud_plan_text", text);
    for format in ["--json", "--markdown"] {
        let first = run(&dir, &["plan", format]);
        assert_eq!(first, run(&dir, &["plan", format]), "{format} differs between runs");
    }

    // The order: what the directory makes before what names it.
    let (code, applied, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{applied}{stderr}");
    let at = |line: &str| applied.find(line).unwrap_or_else(|| panic!("{line} not in {applied}"));
    assert!(at("applied  + org.group[\"mobile\"]\n") < at("applied  + cloud.project[\"MOB\"].group[\"mobile\"]"));
    assert!(
        at("applied  + org.group[\"engineering\"].member[\"kofi\"]")
            < at("applied  + cloud.repo[\"MOB/ios-app\"].user[\"kofi\"]")
    );
    let (code, again, _) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "only the held changes remain: {again}");
    assert!(
        again.contains("No changes to apply. Live state does not match the manifest yet."),
        "{again}"
    );
    assert!(again.contains("2 changes held"), "{again}");
}

#[test]
fn a_group_bitbucket_sees_late_is_granted_once_it_does() {
    let (tmp, dir) = example();
    edit(
        &tmp.path().join("sandbox/atlassian.yaml"),
        "propagation_ms: 0",
        "propagation_ms: 1500",
    );
    let (code, applied, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{applied}{stderr}");
    assert!(
        applied.contains("applied  + cloud.project[\"MOB\"].group[\"mobile\"]"),
        "{applied}"
    );
    let (_, again, _) = run(&dir, &["plan"]);
    assert!(again.contains("No changes to apply."), "{again}");
}

#[test]
fn a_group_the_directory_cannot_make_skips_exactly_what_waits_for_it() {
    let (tmp, dir) = example();
    // `mobile apps` would be Bitbucket's `mobile-apps`, which a directory group has.
    for file in ["manifests/groups.yaml", "manifests/access.yaml"] {
        edit(&tmp.path().join(file), "mobile:", "mobile apps:");
    }
    edit(
        &tmp.path().join("sandbox/atlassian.yaml"),
        "  - id: \"6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e44\"",
        "  - id: \"6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e45\"\n    name: mobile-apps\n  - id: \"6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e44\"",
    );
    let (code, applied, stderr) = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(1), "{applied}{stderr}");
    assert!(applied.contains("FAILED   + org.group[\"mobile apps\"]"), "{applied}");
    assert!(
        applied.contains("skipped  + cloud.project[\"MOB\"].group[\"mobile apps\"]"),
        "{applied}"
    );
    assert!(
        applied.contains("skipped  + org.group[\"mobile apps\"].member[\"chen\"]"),
        "{applied}"
    );
    // Everything else went ahead, on both targets.
    assert!(
        applied.contains("applied  + cloud.repo[\"MOB/ios-app\"].user[\"kofi\"]"),
        "{applied}"
    );
    assert!(
        applied.contains("applied  + org.group[\"payments\"].member[\"olu\"]"),
        "{applied}"
    );
    // The example's plan has 14 changes (9 creates, 1 change, 4 deletes: see the
    // example's README), and renaming `mobile` adds or drops none. One fails: the group.
    // Four wait for it and are skipped: its members chen, ines and ravi, and its grant on
    // MOB. The other 9, on both targets, are applied.
    assert!(
        applied.contains("\nApply incomplete: 9 applied, 1 failed, 4 skipped.\n"),
        "{applied}"
    );
}

/// The example's read costs the fewest list pages there can be, derived from what its
/// manifests name: on the workspace, the token's account, one members search per 90
/// people, the owner, and the group and user lists of each project and repository named
/// (none has more than a page); on the directory, one search for the declared groups, one
/// for the people by email and one for the members of those groups.
#[test]
fn a_plan_of_the_example_reads_the_fewest_pages_there_can_be() {
    let (_tmp, dir) = example();
    let (code, _, stderr) = run(&dir, &["plan", "--verbose"]);
    assert_eq!(code, Some(0), "{stderr}");
    let requests = |target: &str| -> usize {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("{target}: ")) && l.contains("requests so far"))
            .unwrap_or_else(|| panic!("no request count for {target} in {stderr}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let people: usize = 15;
    let (projects, repos) = (3, 6); // PLAT, API, MOB; the repositories `access` names
    assert_eq!(requests("cloud"), 1 + people.div_ceil(90) + 1 + 2 * (projects + repos));
    assert_eq!(requests("org"), 3);
    assert!(stderr.contains(" 0 sent again"), "no request was retried: {stderr}");
}
