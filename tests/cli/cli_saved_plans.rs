//! Saved plans end to end: `plan --out`, `show`, `apply FILE`; a plan going stale in each
//! way it can (and not going stale when unrelated objects change); the safety rules at
//! the command line with exit code 3 and `--allow-deletes`; the audit log.

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rollcall::sandbox::state::{DcState, DcUser, StateFile as _};

/// A private copy of the quickstart: (guard, its root, manifest dir, state file).
fn quickstart() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        tmp.path(),
    );
    let root = tmp.path().to_owned();
    (
        tmp,
        root.clone(),
        root.join("manifests"),
        root.join("sandbox/bitbucket.yaml"),
    )
}

fn rollcall(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("rollcall").unwrap();
    cmd.env_clear().env("NO_COLOR", "1").current_dir(dir);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn edit(state: &Path, f: impl FnOnce(&mut DcState)) {
    let mut s = DcState::load(state).unwrap();
    f(&mut s);
    s.save(state).unwrap();
}

/// `plan --out plan.json` from the quickstart root; returns the plan file.
fn save_plan(root: &Path) -> PathBuf {
    let r = run(rollcall(root).args(["plan", "manifests", "--out", "plan.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    root.join("plan.json")
}

#[test]
fn a_saved_plan_applies_exactly_and_the_next_plan_is_empty() {
    let (_g, root, _, state) = quickstart();
    let file = save_plan(&root);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"manifest_digest\": \"sha256:"));
    assert!(text.contains("\"before\""), "each change records what it expects");

    // `show` renders the file in every format without contacting anything.
    let shown = run(rollcall(&root).args(["show", "plan.json"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("Plan: 22 to create, 4 to change, 3 to delete."));
    let json = run(rollcall(&root).args(["show", "plan.json", "--json"]));
    assert_eq!(json.stdout, text, "show --json gives back the saved document");
    let md = run(rollcall(&root).args(["show", "plan.json", "--markdown"]));
    assert!(md.stdout.starts_with("### rollcall plan"));

    let before = std::fs::read_to_string(&state).unwrap();
    let applied = run(rollcall(&root).args(["apply", "plan.json", "--audit-log", "audit.jsonl"]));
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert!(
        applied.stdout.contains("Apply complete: 29 applied"),
        "{}",
        applied.stdout
    );
    assert_ne!(before, std::fs::read_to_string(&state).unwrap());

    let again = run(rollcall(&root).args(["plan", "manifests", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("No changes."));

    // The same file again changes nothing and says why.
    let twice = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(twice.code, 3, "{}", twice.stderr);
    assert!(
        twice
            .stderr
            .contains("every change of this plan (29) is already in place"),
        "{}",
        twice.stderr
    );

    // An intent and an outcome per change, naming the plan file's digest.
    let digest = shown
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Plan file digest: "))
        .unwrap()
        .to_owned();
    let log = std::fs::read_to_string(root.join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 58);
    for l in &lines {
        assert_eq!(l["format_version"], 2);
        assert_eq!(l["plan_digest"], digest.as_str());
        assert_eq!(l["run"], lines[0]["run"]);
        match l["event"].as_str() {
            Some("intent") => assert_eq!(l["outcome"], serde_json::Value::Null),
            Some("outcome") => assert_eq!(l["outcome"], "applied"),
            other => panic!("unexpected event {other:?}: {l}"),
        }
        assert_eq!(l["target"], "bitbucket");
        for key in ["time", "change", "address", "action", "before", "after", "error"] {
            assert!(l.get(key).is_some(), "audit line lacks {key}: {l}");
        }
    }
    for change in 1..=29 {
        let events: Vec<&str> = lines
            .iter()
            .filter(|l| l["change"] == change)
            .filter_map(|l| l["event"].as_str())
            .collect();
        assert_eq!(events, ["intent", "outcome"], "change {change}");
    }
    assert!(lines
        .iter()
        .any(|l| l["address"] == "bitbucket.user[\"bob\"]" && l["action"] == "update"));
}

/// Each way live state can move under a saved plan, with the address apply must name.
#[test]
fn a_stale_plan_is_refused_naming_every_object_that_changed() {
    type Edit = fn(&mut DcState);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "member added",
            |s| {
                s.groups.get_mut("platform").unwrap().insert("dave".into());
            },
            "bitbucket.group[\"platform\"].member[\"dave\"] changed since the plan was made: expected absent, found present",
        ),
        (
            "member removed",
            |s| {
                s.groups.get_mut("backend").unwrap().remove("judy");
            },
            "bitbucket.group[\"backend\"].member[\"judy\"] changed since the plan was made: expected present, found absent",
        ),
        (
            "permission changed",
            |s| {
                let plat = s.projects.get_mut("PLAT").unwrap();
                plat.grants.groups.insert("platform".into(), "PROJECT_READ".into());
            },
            "bitbucket.project[\"PLAT\"].group[\"platform\"] changed since the plan was made: expected permission=\"PROJECT_WRITE\", found permission=\"PROJECT_READ\"",
        ),
        (
            "user deleted",
            |s| {
                s.users.remove("bob");
                for members in s.groups.values_mut() {
                    members.remove("bob");
                }
            },
            "bitbucket.user[\"bob\"] changed since the plan was made: expected display_name=\"Bob Stone\" email=\"bob@old-domain.example\", found absent",
        ),
        (
            "user deleted whom a new membership refers to",
            |s| {
                s.users.remove("dave");
                for members in s.groups.values_mut() {
                    members.remove("dave");
                }
            },
            "bitbucket.user[\"dave\"] changed since the plan was made: expected present (1 change refers to it), found absent",
        ),
    ];
    for (what, change, message) in cases {
        let (_g, root, _, state) = quickstart();
        save_plan(&root);
        edit(&state, change);
        let before = std::fs::read_to_string(&state).unwrap();
        let r = run(rollcall(&root).args(["apply", "plan.json", "--audit-log", "audit.jsonl"]));
        assert_eq!(r.code, 3, "{what}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(message), "{what}: {}", r.stderr);
        assert!(r.stderr.contains("plan again"), "{what}: {}", r.stderr);
        assert_eq!(
            before,
            std::fs::read_to_string(&state).unwrap(),
            "{what}: nothing changed"
        );
        assert!(
            !root.join("audit.jsonl").exists(),
            "{what}: nothing ran, nothing logged"
        );
    }
}

/// A plan of which one change was made by hand says so, and not that all of it was.
#[test]
fn a_plan_partly_in_place_says_how_much_of_it_is() {
    let (_g, root, _, state) = quickstart();
    save_plan(&root);
    edit(&state, |s| {
        s.groups.get_mut("backend").unwrap().remove("judy");
    });
    let r = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("found absent, as the plan would leave it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "hint: 1 of 29 changes of this plan is already in place (part of it was applied, or made by hand) and the rest are not"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("every change"), "{}", r.stderr);
}

#[test]
fn a_saved_plan_still_applies_when_only_unrelated_objects_changed() {
    let (_g, root, manifests, state) = quickstart();
    save_plan(&root);
    edit(&state, |s| {
        s.users.get_mut("mallory").unwrap().email = "mallory@elsewhere.example".into();
        s.groups.insert("unrelated".into(), ["mallory".to_owned()].into());
        s.users.insert(
            "zed".into(),
            DcUser {
                display_name: "Zed".into(),
                email: "zed@example.com".into(),
                active: true,
            },
        );
    });
    let r = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after = DcState::load(&state).unwrap();
    assert_eq!(
        after.users["mallory"].email, "mallory@elsewhere.example",
        "not in the plan: left alone"
    );
    assert!(after.groups.contains_key("unrelated"));
    let again = run(rollcall(&root).args(["plan", manifests.to_str().unwrap(), "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[test]
fn a_plan_file_that_is_not_a_plan_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body, expected) in [
        ("garbage.json", "not json at all", "not a rollcall plan (invalid JSON"),
        ("old.json", "{\"format_version\": 99}", "format_version 99"),
        ("empty.json", "{}", "no format_version"),
        (
            "shape.json",
            "{\"format_version\": 3, \"changes\": 3}",
            "not a valid rollcall plan",
        ),
    ] {
        std::fs::write(dir.path().join(name), body).unwrap();
        for cmd in ["apply", "show"] {
            let r = run(rollcall(dir.path()).args([cmd, name]));
            assert_eq!(r.code, 1, "{cmd} {name}: {}", r.stderr);
            assert!(r.stderr.contains(expected), "{cmd} {name}: {}", r.stderr);
            assert!(!r.stderr.contains("panicked"));
        }
    }
}

/// A sandbox with `admin` (SYS_ADMIN, the token's account) and u00..u11, and a manifest
/// that prunes users and declares `kept` of them.
fn pruning_world(kept: usize, policy: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    let mut users = "users:\n  admin: { name: Admin, email: admin@example.com }\n".to_owned();
    for name in std::iter::once("admin".to_owned()).chain((0..12).map(|i| format!("u{i:02}"))) {
        s.users.insert(
            name.clone(),
            DcUser {
                display_name: name.clone(),
                email: format!("{name}@example.com"),
                active: true,
            },
        );
    }
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    for i in 0..kept {
        users.push_str(&format!("  u{i:02}: {{ name: u{i:02}, email: u{i:02}@example.com }}\n"));
    }
    std::fs::create_dir_all(root.join("m")).unwrap();
    s.save(&root.join("state.yaml")).unwrap();
    let access = "access:\n  bb:\n    global:\n      users: { admin: SYS_ADMIN }\n";
    std::fs::write(
        root.join("m/manifest.yaml"),
        format!("targets:\n  bb: {{ kind: bitbucket-datacenter, url: \"sandbox:../state.yaml\" }}\n{users}{access}policy:\n  prune: {{ users: true }}\n{policy}"),
    )
    .unwrap();
    (tmp, root)
}

#[test]
fn too_many_deletes_refuse_the_plan_with_exit_3_until_allowed() {
    // 13 users live, 8 declared: 5 deletes is 38% of users, over the default 30%.
    let (_g, root) = pruning_world(7, "");
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let refusal = "the plan deletes 5 of 13 users on `bb` (38.5%); policy.limits.max_delete_percent is 30";
    assert!(r.stdout.contains(refusal), "the plan shows it: {}", r.stdout);
    assert!(
        r.stderr.contains(refusal) && r.stderr.contains("--allow-deletes"),
        "{}",
        r.stderr
    );
    let md = run(rollcall(&root).args(["plan", "m", "--markdown"]));
    assert_eq!(md.code, 3);
    insta::assert_snapshot!("refused_plan_markdown", md.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&run(rollcall(&root).args(["plan", "m", "--json"])).stdout).unwrap();
    assert_eq!(json["refusals"][0]["rule"], "max_delete_percent");

    // The saved plan is refused at apply too, unless enough deletes are admitted.
    let state_before = std::fs::read_to_string(root.join("state.yaml")).unwrap();
    let r = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = run(rollcall(&root).args(["apply", "plan.json", "--allow-deletes", "4"]));
    assert_eq!(r.code, 3, "4 do not admit 5: {}", r.stderr);
    assert!(r.stderr.contains("--allow-deletes 4 admits at most 4"), "{}", r.stderr);
    assert_eq!(state_before, std::fs::read_to_string(root.join("state.yaml")).unwrap());
    let r = run(rollcall(&root).args(["apply", "plan.json", "--allow-deletes", "5"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(DcState::load(&root.join("state.yaml")).unwrap().users.len(), 8);
}

#[test]
fn max_deletes_holds_at_the_limit_and_refuses_one_over() {
    let (_g, root) = pruning_world(10, "  limits: { max_deletes: 2 }\n");
    let r = run(rollcall(&root).args(["plan", "m"]));
    assert_eq!(r.code, 0, "2 deletes, limit 2: {}\n{}", r.stdout, r.stderr);
    let (_g, root) = pruning_world(9, "  limits: { max_deletes: 2 }\n");
    let r = run(rollcall(&root).args(["apply", "m", "--auto-approve"]));
    assert_eq!(r.code, 3, "3 deletes, limit 2: {}", r.stderr);
    assert!(r
        .stderr
        .contains("the plan deletes 3 objects; policy.limits.max_deletes is 2"));
    assert_eq!(
        DcState::load(&root.join("state.yaml")).unwrap().users.len(),
        13,
        "nothing deleted"
    );
}

#[test]
fn protected_users_and_the_token_account_are_never_deleted() {
    let (_g, root) = pruning_world(10, "  protect: [U11]\n");
    let r = run(rollcall(&root).args(["apply", "m", "--auto-approve", "--allow-deletes", "100"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("deleting bb.user[\"u11\"] touches `u11`, which policy.protect lists"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("u10\"] touches"), "u10 is not protected");

    // A manifest that forgets the token's own account would delete it: refused.
    let (_g, root) = pruning_world(12, "");
    let manifest = root.join("m/manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text
        .replace("  admin: { name: Admin, email: admin@example.com }\n", "")
        .replace("      users: { admin: SYS_ADMIN }\n", "      users: {}\n");
    std::fs::write(&manifest, text).unwrap();
    let r = run(rollcall(&root).args(["apply", "m", "--auto-approve", "--allow-deletes", "100"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("bb.user[\"admin\"] deletes `admin`, the account rollcall works as"),
        "{}",
        r.stderr
    );
    assert!(DcState::load(&root.join("state.yaml"))
        .unwrap()
        .users
        .contains_key("admin"));
}

/// A group the plan deletes gains members and an admin grant after the plan was made:
/// deleting it now would take away admin rights nobody reviewed, so the plan is stale.
#[test]
fn a_plan_deleting_a_group_goes_stale_when_the_group_gains_members() {
    let (_g, root) = pruning_world(12, "");
    edit(&root.join("state.yaml"), |s| {
        s.groups.insert("old".into(), Default::default());
    });
    let manifest = root.join("m/manifest.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("prune: { users: true }", "prune: { users: true, groups: true }");
    std::fs::write(&manifest, text).unwrap();
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("- bb.group[\"old\"]"), "{}", r.stdout);

    edit(&root.join("state.yaml"), |s| {
        s.groups
            .insert("old".into(), ["u01".to_owned(), "u02".to_owned()].into());
        s.global.groups.insert("old".into(), "ADMIN".into());
    });
    let r = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    for joined in ["bb.group[\"old\"].member[\"u01\"]", "bb.global.group[\"old\"]"] {
        assert!(
            r.stderr.contains(&format!(
                "{joined} changed since the plan was made: expected absent (the plan deletes bb.group[\"old\"], which would take it along)"
            )),
            "{}",
            r.stderr
        );
    }
    assert!(DcState::load(&root.join("state.yaml"))
        .unwrap()
        .groups
        .contains_key("old"));
}

/// Hand edits that would make apply do something other than what the plan shows.
#[test]
fn an_edited_plan_file_that_disagrees_with_itself_is_rejected() {
    let (_g, root, _, state) = quickstart();
    save_plan(&root);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("plan.json")).unwrap()).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 3] = [
        (
            |p| p["changes"][0]["resource"]["name"] = "someone-else".into(),
            "does not match its resource",
        ),
        (
            |p| {
                let first = p["changes"][0].clone();
                p["changes"].as_array_mut().unwrap().push(first);
            },
            "has more than one change",
        ),
        (
            |p| {
                let first = p["targets"][0].clone();
                p["targets"].as_array_mut().unwrap().push(first);
            },
            "is listed twice",
        ),
    ];
    let before = std::fs::read_to_string(&state).unwrap();
    for (edit, expected) in cases {
        let mut plan = original.clone();
        edit(&mut plan);
        std::fs::write(root.join("edited.json"), plan.to_string()).unwrap();
        let r = run(rollcall(&root).args(["apply", "edited.json"]));
        assert_eq!(r.code, 1, "{expected}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{expected}: {}", r.stderr);
    }
    assert_eq!(before, std::fs::read_to_string(&state).unwrap());
}

/// `protect` names people as the manifest does; their username on the target is
/// protected with them.
#[test]
fn a_protected_person_is_protected_under_their_username_on_the_target() {
    let (_g, root) = pruning_world(12, "  protect: [carol]\n");
    let manifest = root.join("m/manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "  u05: { name: u05, email: u05@example.com }\n",
        "  carol: { name: Carol, email: carol@example.com, ids: { bb: u05 } }\n",
    );
    std::fs::write(&manifest, text).unwrap();
    let r = run(rollcall(&root).args(["plan", "m"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("changing bb.user[\"u05\"] touches `u05`, which policy.protect lists"),
        "{}",
        r.stdout
    );
}

/// The saved plan with one edit made by hand, applied: refused with exit 3, naming what
/// differs, and nothing changed.
fn refused_after_edit(root: &Path, state: &Path, file: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Run {
    let mut plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
    edit(&mut plan);
    std::fs::write(root.join("edited.json"), serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    let before = std::fs::read_to_string(state).unwrap();
    let r = run(rollcall(root).args(["apply", "edited.json"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refused; nothing was changed"), "{}", r.stderr);
    assert_eq!(before, std::fs::read_to_string(state).unwrap(), "{}", r.stderr);
    r
}

fn change_at<'a>(plan: &'a mut serde_json::Value, address: &str) -> &'a mut serde_json::Value {
    plan["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change to {address}"))
}

/// A saved plan edited by hand is what its manifests and live state no longer give:
/// refused, each difference named. The policy comes from the manifests, never the file.
#[test]
fn a_hand_edited_plan_is_refused_naming_what_differs() {
    let (_g, root, _, state) = quickstart();
    save_plan(&root);
    let alice = "bitbucket.global.user[\"alice\"]";
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        change_at(p, alice)["after"]["permission"] = "SYS_ADMIN".into();
    });
    assert!(
        r.stderr.contains(&format!(
            "{alice}: the plan file would create it to permission=\"SYS_ADMIN\"; the manifests would create it to permission=\"ADMIN\""
        )),
        "{}",
        r.stderr
    );
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        let changes = p["changes"].as_array_mut().unwrap();
        changes.retain(|c| c["address"] != alice);
    });
    assert!(
        r.stderr.contains(&format!(
            "{alice}: the manifests would create it; the plan file has no change to it"
        )),
        "{}",
        r.stderr
    );
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        p["targets"][0]["endpoint"] = "sandbox:/elsewhere.yaml".into();
        p["targets"][0]["connection"]["url"] = "sandbox:/elsewhere.yaml".into();
    });
    assert!(
        r.stderr.contains(
            "target `bitbucket`: the plan file connects to sandbox:/elsewhere.yaml, the manifests to sandbox:../sandbox/bitbucket.yaml"
        ),
        "{}",
        r.stderr
    );
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        change_at(p, alice)["reason"] = "approved by security".into();
    });
    assert!(
        r.stderr.contains(&format!(
            "{alice}: the plan file gives the reason `approved by security`; the manifests give none"
        )),
        "{}",
        r.stderr
    );
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        p["targets"][0]["connection"]["token"] = "${env:HOME}".into();
    });
    assert!(r.stderr.contains("credentials"), "{}", r.stderr);
    let r = refused_after_edit(&root, &state, "plan.json", |p| {
        p["manifest_digest"] = format!("sha256:{}", "0".repeat(64)).into();
    });
    assert!(
        r.stderr.contains("are not the ones the plan was made from"),
        "{}",
        r.stderr
    );
}

/// The case: a plan refused because it deletes a protected user, with the file's
/// `policy.protect` and `refusals` emptied by hand. The manifests' policy still holds.
#[test]
fn emptying_the_files_policy_and_refusals_does_not_admit_a_refused_plan() {
    let (_g, root) = pruning_world(11, "  protect: [u11]\n");
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let r = refused_after_edit(&root, &root.join("state.yaml"), "plan.json", |p| {
        p["policy"]["protect"] = serde_json::json!([]);
        p["refusals"] = serde_json::json!([]);
    });
    assert!(
        r.stderr
            .contains("the plan file's `policy` is not the manifests' policy"),
        "{}",
        r.stderr
    );
}

/// The live counts the delete percentage is taken of come from live state, not the file.
#[test]
fn inflated_live_counts_in_the_file_do_not_pass_the_delete_limits() {
    let (_g, root) = pruning_world(7, "");
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let r = refused_after_edit(&root, &root.join("state.yaml"), "plan.json", |p| {
        p["existing"]["bb"]["users"] = 1000.into();
        p["refusals"] = serde_json::json!([]);
    });
    assert!(
        r.stderr.contains("the plan deletes 5 of 13 users on `bb`"),
        "{}",
        r.stderr
    );
}

/// `show` gives the refusals `apply` would make now, never the file's; it says when it
/// cannot check, and `--offline` only renders.
#[test]
fn show_recomputes_the_refusals_as_apply_does() {
    let (_g, root) = pruning_world(7, "");
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 3);
    let refusal = "the plan deletes 5 of 13 users on `bb` (38.5%)";
    // Refusals taken out of the file still show.
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("plan.json")).unwrap()).unwrap();
    plan["refusals"] = serde_json::json!([]);
    std::fs::write(root.join("quiet.json"), serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    let shown = run(rollcall(&root).args(["show", "quiet.json"]));
    assert_eq!(shown.code, 3, "{}\n{}", shown.stdout, shown.stderr);
    assert!(shown.stdout.contains(refusal), "{}", shown.stdout);
    // A refusal written into the file is not shown: it is not one apply would make.
    let mut plan = plan.clone();
    plan["refusals"] = serde_json::json!([{"rule": "max_deletes", "target": null, "message": "made up"}]);
    std::fs::write(root.join("loud.json"), serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    let shown = run(rollcall(&root).args(["show", "loud.json", "--allow-deletes", "5"]));
    assert_eq!(shown.code, 0, "{}\n{}", shown.stdout, shown.stderr);
    assert!(!shown.stdout.contains("made up"), "{}", shown.stdout);
    // Without the manifests, show says it cannot check; --offline only renders.
    std::fs::rename(root.join("m"), root.join("moved")).unwrap();
    let shown = run(rollcall(&root).args(["show", "plan.json"]));
    assert_eq!(shown.code, 1, "{}", shown.stderr);
    assert!(shown.stdout.contains("5 to delete."), "{}", shown.stdout);
    assert!(shown.stderr.contains("--manifests DIR"), "{}", shown.stderr);
    let shown = run(rollcall(&root).args(["show", "plan.json", "--manifests", "moved"]));
    assert_eq!(shown.code, 3, "{}", shown.stderr);
    assert!(shown.stdout.contains(refusal), "{}", shown.stdout);
    let shown = run(rollcall(&root).args(["show", "plan.json", "--offline"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stdout.contains(refusal), "{}", shown.stdout);
    assert!(shown.stdout.contains("Not checked (--offline)"), "{}", shown.stdout);
}

/// `apply FILE --expect-digest` applies only the file whose digest was reviewed.
#[test]
fn expect_digest_pins_the_reviewed_plan_file() {
    let (_g, root, _, state) = quickstart();
    let r = run(rollcall(&root).args(["plan", "manifests", "--markdown", "--out", "plan.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r
        .stderr
        .split('(')
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("plan `{digest}`")),
        "the Markdown shows it: {}",
        r.stdout
    );
    let before = std::fs::read_to_string(&state).unwrap();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let r = run(rollcall(&root).args(["apply", "plan.json", "--expect-digest", &wrong]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("the plan file's digest is {digest}, not the expected {wrong}")),
        "{}",
        r.stderr
    );
    assert_eq!(before, std::fs::read_to_string(&state).unwrap());
    let r = run(rollcall(&root).args(["apply", "plan.json", "--expect-digest", &digest]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("Applying plan {digest}.")), "{}", r.stdout);
}

/// Paths in a plan file are relative to the file: applied from another directory, which
/// holds a copy of the same tree, the plan still changes the state it was made against.
#[test]
fn a_plan_file_applies_from_any_directory() {
    let (_g, root, _, state) = quickstart();
    std::fs::create_dir_all(root.join("plans")).unwrap();
    let r = run(rollcall(&root).args(["plan", "manifests", "--out", "plans/plan.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(root.join("plans/plan.json")).unwrap();
    assert!(text.contains("\"manifests\": \"../manifests\""), "{text}");
    assert!(
        text.contains("\"url\": \"sandbox:../sandbox/bitbucket.yaml\""),
        "{text}"
    );
    let (_g2, decoy, _, decoy_state) = quickstart();
    let decoy_before = std::fs::read_to_string(&decoy_state).unwrap();
    let r = run(rollcall(&decoy).args(["apply", root.join("plans/plan.json").to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        decoy_before,
        std::fs::read_to_string(&decoy_state).unwrap(),
        "the other tree is untouched"
    );
    assert!(
        std::fs::read_to_string(&state).unwrap().contains("frank"),
        "the plan's own state was applied"
    );
}

/// A plan file is read up to a cap: a huge file or an endless one is a clear error.
#[test]
fn reading_a_plan_file_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(dir.path().join("big.json")).unwrap();
    big.set_len(65 * 1024 * 1024).unwrap();
    for file in ["big.json", "/dev/zero"] {
        for cmd in ["show", "apply"] {
            let r = run(rollcall(dir.path()).args([cmd, file]));
            assert_eq!(r.code, 1, "{cmd} {file}: {}", r.stderr);
            assert!(r.stderr.contains("is larger than 64 MiB"), "{cmd} {file}: {}", r.stderr);
        }
    }
}

/// A plan made from other manifests than the ones there now is refused.
#[test]
fn a_plan_whose_manifests_changed_is_refused() {
    let (_g, root, manifests, state) = quickstart();
    save_plan(&root);
    let extra = manifests.join("extra.yaml");
    std::fs::write(&extra, "users:\n  zed: { name: Zed, email: zed@example.com }\n").unwrap();
    let before = std::fs::read_to_string(&state).unwrap();
    let r = run(rollcall(&root).args(["apply", "plan.json"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("are not the ones the plan was made from"),
        "{}",
        r.stderr
    );
    assert_eq!(before, std::fs::read_to_string(&state).unwrap());
}

/// A `policy.protect` entry that names nobody, in the manifests or on any target, is an
/// error: a misspelt name would protect nothing. A name only the target has is fine.
#[test]
fn a_protected_name_that_names_nobody_is_an_error() {
    let (_g, root) = pruning_world(11, "  protect: [u11x]\n");
    let r = run(rollcall(&root).args(["plan", "m"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("policy.protect lists `u11x`, which the manifests do not declare and no target has"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean `u11`?"), "{}", r.stderr);
    let (_g, root) = pruning_world(12, "  protect: [U11, nobody-yet]\n");
    let manifest = root.join("m/manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("  u11:", "  nobody-yet: { name: N, email: n@example.com }\n  u11:"),
    )
    .unwrap();
    let r = run(rollcall(&root).args(["plan", "m"]));
    // Both names are known; creating a protected person is refused as ever.
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("the manifests do not declare"), "{}", r.stderr);
    assert!(
        r.stderr.contains("creating bb.user[\"nobody-yet\"] touches"),
        "{}",
        r.stderr
    );
}

/// Offboarding someone from a protected group is refused with the only ways out: by hand,
/// or lifting the protection. Declaring the group as it is live would not help.
#[test]
fn offboarding_from_a_protected_group_says_what_resolves_it() {
    let (_g, root, manifests, _) = quickstart();
    std::fs::write(manifests.join("policy.yaml"), "policy:\n  protect: [stash-users]\n").unwrap();
    let r = run(rollcall(&root).args(["plan", "manifests"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "remove `judy` from `stash-users` on the target by hand, or take `stash-users` out of policy.protect"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("declare the protected"), "{}", r.stderr);
}

/// What a hand edit may not do to where a plan looks: name manifests by an absolute path,
/// or give a key twice so that a reader and rollcall see different values.
#[test]
fn a_plan_file_naming_its_manifests_oddly_is_rejected() {
    let (_g, root, _, state) = quickstart();
    save_plan(&root);
    let text = std::fs::read_to_string(root.join("plan.json")).unwrap();
    let before = std::fs::read_to_string(&state).unwrap();
    let absolute = text.replace(
        "\"manifests\": \"manifests\"",
        &format!("\"manifests\": {:?}", root.join("manifests").display().to_string()),
    );
    assert_ne!(absolute, text);
    let twice = text.replace(
        "\"manifests\": \"manifests\",",
        "\"manifests\": \"manifests\",\n  \"manifests\": \"elsewhere\",",
    );
    for (body, expected) in [
        (absolute, "rollcall writes it relative to the plan file"),
        (twice, "duplicate field `manifests`"),
    ] {
        std::fs::write(root.join("odd.json"), body).unwrap();
        let r = run(rollcall(&root).args(["apply", "odd.json"]));
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(expected), "{}", r.stderr);
    }
    assert_eq!(before, std::fs::read_to_string(&state).unwrap());
}

/// The CI flow: the plan file travels as an artifact to another directory and is applied
/// with `--manifests` naming the checkout; a link to a plan file reads like the file.
#[test]
fn a_moved_plan_file_applies_with_manifests_and_through_a_link() {
    let (_g, root, manifests, state) = quickstart();
    save_plan(&root);
    let artifacts = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("plan.json"), artifacts.path().join("plan.json")).unwrap();
    let r = run(rollcall(artifacts.path()).args(["show", "plan.json"]));
    assert_eq!(r.code, 1, "without the manifests it cannot be checked: {}", r.stderr);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("plan.json"), artifacts.path().join("link.json")).unwrap();
        let r = run(rollcall(artifacts.path()).args(["show", "link.json"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(rollcall(artifacts.path()).args(["apply", "plan.json", "--manifests", manifests.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Checked against the manifests in"), "{}", r.stderr);
    assert!(std::fs::read_to_string(&state).unwrap().contains("frank"));
}

/// `show --markdown` heads its comment with the file's digest, the one `--expect-digest`
/// takes, even when what it checked (the refusals) differs from what the file says.
#[test]
fn show_shows_the_files_digest() {
    let (_g, root) = pruning_world(7, "");
    let r = run(rollcall(&root).args(["plan", "m", "--out", "plan.json"]));
    assert_eq!(r.code, 3);
    let digest = r
        .stderr
        .split('(')
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    let md = run(rollcall(&root).args(["show", "plan.json", "--markdown", "--allow-deletes", "5"]));
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(md.stdout.contains(&format!("plan `{digest}`")), "{}", md.stdout);
}

/// A plan file names its manifests as text: a directory whose name is not UTF-8 cannot be
/// named, so the plan is not saved rather than saved naming something else.
#[cfg(unix)]
#[test]
fn a_plan_is_not_saved_naming_a_path_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let (_g, root, _, _) = quickstart();
    let odd = root.join(std::ffi::OsStr::from_bytes(b"plans-\xff"));
    std::fs::create_dir(&odd).unwrap();
    let r = run(rollcall(&root)
        .arg("plan")
        .arg("manifests")
        .arg("--out")
        .arg(odd.join("plan.json")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is not UTF-8 text"), "{}", r.stderr);
    assert!(!odd.join("plan.json").exists());
}
