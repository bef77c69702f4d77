//! The Northwind example end to end: one manifest provisions the same people and groups
//! into a Bitbucket Data Center sandbox, an Atlassian-profile SCIM sandbox and a
//! Buildkite sandbox. The plan shows the three, grouped by target; applying it (directly,
//! or through a saved plan) leaves nothing to do but what waits for people to accept
//! their invitations.

use crate::common;

use std::path::{Path, PathBuf};

fn example() -> (tempfile::TempDir, PathBuf) {
    common::example("northwind")
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    common::run_in(dir, args)
}

#[test]
fn one_plan_shows_both_targets_grouped() {
    let (_tmp, dir) = example();
    let (code, text, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(0), "{stderr}");
    let bitbucket = text.find("bitbucket (bitbucket-datacenter at").unwrap();
    let buildkite = text.find("buildkite (buildkite at").unwrap();
    let directory = text.find("directory (scim/atlassian at").unwrap();
    assert!(bitbucket < buildkite && buildkite < directory);
    // The same person and group on both, each under its target.
    assert!(text.contains("  + bitbucket.group[\"backend\"].member[\"frank\"]"));
    assert!(text.contains("  + directory.group[\"backend\"].member[\"frank\"]"));
    // The leaver loses access on both, and is deactivated where that exists.
    assert!(text.contains("  - bitbucket.group[\"backend\"].member[\"judy\"]  (user `judy` is inactive)"));
    assert!(text.contains("  ~ directory.user[\"judy\"]  (deactivated: `active: false` in the manifest)"));
    // A rename the directory cannot do, shown as what it is.
    assert!(text.contains("  + directory.group[\"mobile\"]  (replaces `apps`"));
    assert!(text.contains("  - directory.group[\"apps\"]  (renamed to `mobile`)"));
    // On Buildkite: renamed in place, a person invited with their team, the leaver
    // removed from the organization, a maintainer made a member again.
    assert!(text.contains("  ~ buildkite.group[\"mobile\"]  (renamed from `apps`)"));
    assert!(text.contains("  + buildkite.user[\"ivan\"]  (invited: "));
    assert!(text.contains("  - buildkite.user[\"judy\"]  (user `judy` is inactive: buildkite has no deactivation"));
    assert!(text.contains("        role: \"MAINTAINER\" -> \"MEMBER\""));
    assert!(text.contains("* buildkite.user[\"grace\"]: invited, not a member yet"));
    insta::assert_snapshot!("two_targets_plan_text", text);
    for format in ["--json", "--markdown"] {
        let first = run(&dir, &["plan", format]);
        assert_eq!(
            first,
            run(&dir, &["plan", format]),
            "{format} is byte-identical across runs"
        );
    }
}

#[test]
fn apply_then_plan_is_empty_on_every_target() {
    let (_tmp, dir) = example();
    let (code, out, stderr) = run(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}{stderr}");
    assert!(
        out.contains("Apply complete: 67 applied, 0 failed, 0 skipped."),
        "{out}"
    );
    let (code, out, _) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn a_saved_plan_with_a_scim_target_applies_exactly_once() {
    let (tmp, dir) = example();
    let file = tmp.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    let (code, _, stderr) = run(&dir, &["plan", "--out", file_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("\"kind\": \"scim\""));
    assert!(saved.contains("\"profile\": \"atlassian\""));
    assert!(saved.contains("\"renamed_from\": \"apps\""));
    let (code, shown, _) = run(&dir, &["show", file_arg]);
    assert_eq!(code, Some(0));
    let planned = run(&dir, &["plan"]).1;
    assert!(
        shown.starts_with(&planned),
        "show renders the saved plan as plan did:\n{shown}"
    );
    let (code, out, stderr) = run(&dir, &["apply", file_arg]);
    assert_eq!(code, Some(0), "{out}{stderr}");
    let (code, _, stderr) = run(&dir, &["apply", file_arg]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("already in place"), "{stderr}");
    let (code, out, _) = run(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!((code, out.contains("No changes.")), (Some(0), true), "{out}");
}

#[test]
fn a_sandbox_of_the_other_platform_is_named_as_such() {
    let (_tmp, dir) = example();
    let targets = std::fs::read_to_string(dir.join("targets.yaml")).unwrap();
    let swapped = targets
        .replace("../sandbox/bitbucket.yaml", "../sandbox/X")
        .replace("../sandbox/directory.yaml", "../sandbox/bitbucket.yaml");
    std::fs::write(
        dir.join("targets.yaml"),
        swapped.replace("../sandbox/X", "../sandbox/directory.yaml"),
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is a SCIM sandbox (`kind: scim`), but the target's kind is `bitbucket-datacenter`"),
        "{stderr}"
    );
}

/// Saves the example's plan, edits each change with `edit`, and runs `apply` on the file:
/// (exit code, stderr).
fn apply_edited_plan(edit: impl Fn(&mut serde_json::Value)) -> (Option<i32>, String) {
    let (tmp, dir) = example();
    let file = tmp.path().join("plan.json");
    let file_arg = file.to_str().unwrap();
    assert_eq!(run(&dir, &["plan", "--out", file_arg]).0, Some(0));
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["changes"].as_array_mut().unwrap().iter_mut().for_each(edit);
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let (code, _, stderr) = run(&dir, &["apply", file_arg]);
    (code, stderr)
}

#[test]
fn a_saved_plan_whose_rename_was_edited_apart_is_rejected() {
    let (code, stderr) = apply_edited_plan(|change| {
        if let Some(c) = change.as_object_mut() {
            c.remove("renamed_to");
        }
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("directory.group[\"mobile\"] replaces `apps`, which the plan does not delete as renamed"),
        "{stderr}"
    );
}

#[test]
fn a_saved_plan_cannot_rename_in_place_where_the_platform_cannot() {
    let (code, stderr) = apply_edited_plan(|change| {
        if change["renamed_from"] == "apps" {
            change["action"] = "update".into();
            change["before"] = serde_json::json!({"type": "group"});
        }
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("directory.group[\"mobile\"] renames in place, which a scim/atlassian target cannot do"),
        "{stderr}"
    );
}

/// The Buildkite sandbox's token belongs to `alice` (its operator, an email): offboarding
/// her is refused by the safety rules before anything is sent, as on a real target whose
/// `auth.account` names her.
#[test]
fn the_person_the_buildkite_token_belongs_to_is_never_removed() {
    let (_tmp, dir) = example();
    let people = dir.join("people.yaml");
    let text = std::fs::read_to_string(&people).unwrap();
    let offboarded = text.replace(
        "    email: alice@northwind.example\n",
        "    email: alice@northwind.example\n    active: false\n",
    );
    std::fs::write(&people, offboarded).unwrap();
    let (code, _, stderr) = run(&dir, &["plan"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("buildkite.user[\"alice\"] deletes `alice`, the account rollcall works as"),
        "{stderr}"
    );
}
