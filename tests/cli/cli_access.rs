//! `rollcall access` end to end on copies of the examples: the manifest's answer and the
//! live one, the `--who` and `--on` filters, every format, byte-identical runs, and
//! access as the plan's effect says it will be once applied.

use crate::common;

use common::{example, run_in as run};

/// Who can do what on API/payments, from the manifests: worked out by hand from the
/// quickstart's access.yaml and groups.yaml.
#[test]
fn who_can_do_what_on_a_repository_from_the_manifests() {
    let (_tmp, dir) = example("quickstart");
    let (code, out, err) = run(&dir, &["access", ".", "--on", "bitbucket:API/payments"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(
        lines,
        [
            // alice: a global ADMIN, and in release-managers.
            "  bitbucket: admin on repository API/payments (ADMIN on global permissions, REPO_ADMIN via release-managers)",
            // bob and dave: platform has read on the project.
            "  bitbucket: read on repository API/payments (PROJECT_READ on project API via platform)",
            // carol (cdiaz on Bitbucket): a direct admin grant, above backend's write.
            "  bitbucket as cdiaz: admin on repository API/payments (REPO_ADMIN)",
            "  bitbucket: read on repository API/payments (PROJECT_READ on project API via platform)",
            // erin: release-managers' admin beats backend's write on the project.
            "  bitbucket: admin on repository API/payments (REPO_ADMIN via release-managers)",
            // frank and grace: backend's project write.
            "  bitbucket: write on repository API/payments (PROJECT_WRITE on project API via backend)",
            "  bitbucket: write on repository API/payments (PROJECT_WRITE on project API via backend)",
        ]
    );
    // The manifest's name finds the person under their username on the target.
    let (_, carol, _) = run(
        &dir,
        &["access", ".", "--who", "carol", "--on", "bitbucket:API/payments"],
    );
    assert!(
        carol.contains("\ncarol <carol@contractor.example>\n  bitbucket as cdiaz: admin"),
        "{carol}"
    );
    // Heidi and ivan (mobile) have nothing there; judy is offboarded.
    for nobody in ["heidi", "ivan", "judy"] {
        assert!(!out.contains(nobody), "{nobody} listed:\n{out}");
    }
}

/// `--who` by name or by email, across every target of a plan, in JSON and CSV.
#[test]
fn one_person_everywhere_in_json_and_csv() {
    let (_tmp, dir) = example("northwind");
    let (code, json, err) = run(
        &dir,
        &["access", ".", "--who", "ERIN@northwind.example", "--format", "json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["from"], "manifest");
    assert_eq!(report["generated_at"], "2023-11-14T22:13:20Z");
    let entries = report["entries"].as_array().unwrap();
    let targets: std::collections::BTreeSet<&str> = entries.iter().map(|e| e["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["bitbucket", "buildkite", "directory"].into());
    assert!(entries.iter().all(|e| e["person"] == "erin"));
    let deploy = entries
        .iter()
        .find(|e| e["target"] == "buildkite" && e["resource"] == "deploy-api")
        .unwrap();
    assert_eq!(deploy["level"], "write");
    assert_eq!(deploy["reasons"][0]["via"], "backend");

    let (_, csv, _) = run(&dir, &["access", ".", "--who", "erin", "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "person,account,email,target,resource,noun,level,reasons");
    assert_eq!(rows.len(), entries.len() + 1, "{csv}");
    assert!(rows.contains(&"erin,,erin@northwind.example,directory,release-managers,group,member,member"));
}

/// From live state, access differs from the manifest's until apply; after apply it is the
/// manifest's, and what changed is exactly what the plan's effect listed.
#[test]
fn live_access_moves_as_the_plan_said() {
    let (_tmp, dir) = example("quickstart");
    let args = ["access", ".", "--live", "--format", "json"];
    let (_, before_json, err) = run(&dir, &args);
    let (_, plan, _) = run(&dir, &["plan", ".", "--json"]);
    let (code, _, _) = run(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, after, _) = run(&dir, &args);
    let (_, declared, _) = run(&dir, &["access", ".", "--format", "json"]);

    let levels = |json: &str| -> std::collections::BTreeMap<(String, String), String> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let key = (
                    e["person"].as_str().unwrap().to_owned(),
                    e["resource"].as_str().unwrap().to_owned(),
                );
                (key, e["level"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let (before, after) = (levels(&before_json), levels(&after));
    assert_ne!(before, after);
    // The unmanaged objects (mallory, the admin account) stay live and out of the manifest.
    let declared = levels(&declared);
    for (key, level) in &declared {
        assert_eq!(after.get(key), Some(level), "{key:?} after apply");
    }
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    // The plan reads only what it may change, and says what its effect could not count:
    // the members of `stash-users`, a group the manifests do not declare, which gives
    // a licence. A live read is whole, so the global lines of people licensed through
    // it are left out of the comparison.
    let unread = plan["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["text"].as_str())
        .find(|t| t.starts_with("the effect on people counts only what the plan read"))
        .expect("a note on what the plan did not read");
    assert!(unread.contains("the members of group `stash-users`"), "{unread}");
    let through_unread: std::collections::BTreeSet<String> = {
        let v: serde_json::Value = serde_json::from_str(&before_json).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["via"] == "stash-users")
            })
            .map(|e| e["person"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(through_unread.contains("dave"), "{through_unread:?}");
    let mut compared = 0;
    for e in plan["effects"].as_array().unwrap() {
        let key = (
            e["person"].as_str().unwrap().to_owned(),
            e["resource"].as_str().unwrap().to_owned(),
        );
        if key.1 == "global" && through_unread.contains(&key.0) {
            continue;
        }
        compared += 1;
        assert_eq!(
            before.get(&key).map(String::as_str),
            e["before"].as_str(),
            "{key:?} before"
        );
        assert_eq!(
            after.get(&key).map(String::as_str),
            e["after"].as_str(),
            "{key:?} after"
        );
    }
    assert!(compared > 10, "{compared} effect lines compared");
}

/// The same inputs give the same bytes, in every format; a target `--on` does not know is
/// an error that names the targets.
#[test]
fn output_is_deterministic_and_unknown_targets_are_errors() {
    let (_tmp, dir) = example("northwind");
    for format in ["text", "json", "csv"] {
        let first = run(&dir, &["access", ".", "--format", format]);
        assert_eq!(first.0, Some(0), "{}", first.2);
        assert_eq!(first, run(&dir, &["access", ".", "--format", format]), "{format}");
    }
    let (code, _, err) = run(&dir, &["access", ".", "--on", "gitlab:API"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no target `gitlab`") && err.contains("bitbucket, buildkite, directory"),
        "{err}"
    );
}

/// Taking an offboarded person's access is the offboarding, even where what is taken
/// was held twice: judy (inactive in the manifests) leaves `plat-readers`, whose read on
/// PLAT every user also holds through the project's all-users permission. On Data
/// Center, which has no deactivation, that removal is not flagged as changing nothing.
#[test]
fn an_offboarded_persons_removals_are_not_flagged_as_changing_nothing() {
    let (tmp, dir) = example("quickstart");
    let sandbox = tmp.path().join("sandbox/bitbucket.yaml");
    let state = std::fs::read_to_string(&sandbox).unwrap();
    let state = state
        .replace("  backend: [cdiaz, erin, judy]\n", "  backend: [cdiaz, erin, judy]\n  plat-readers: [judy]\n")
        .replace(
            "  PLAT:\n    name: Platform\n    groups:\n",
            "  PLAT:\n    name: Platform\n    all_users: [PROJECT_READ]\n    groups:\n      plat-readers: PROJECT_READ\n",
        );
    assert!(state.contains("plat-readers: PROJECT_READ"), "{state}");
    std::fs::write(&sandbox, state).unwrap();
    let (code, out, err) = run(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        out.contains("- bitbucket.group[\"plat-readers\"].member[\"judy\"]"),
        "{out}"
    );
    let judy: Vec<&str> = out.lines().filter(|l| l.contains("[\"judy\"]")).collect();
    assert!(judy.iter().all(|l| !l.contains("no effect")), "{judy:#?}");
}

/// An invitation not accepted yet gives nothing, whatever teams and role it carries:
/// grace is invited to the Buildkite organization, into the backend team.
#[test]
fn an_invited_person_has_no_live_access_yet() {
    let (_tmp, dir) = example("northwind");
    let (code, out, err) = run(&dir, &["access", ".", "--live", "--who", "grace", "--on", "buildkite"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Nobody has access there."), "{out}");
    // A live read is whole: dave's licence comes through `stash-users`, which the
    // manifests do not declare.
    let (_, out, _) = run(
        &dir,
        &["access", ".", "--live", "--who", "dave", "--on", "bitbucket:global"],
    );
    assert!(
        out.contains("read on global permissions (LICENSED_USER via stash-users)"),
        "{out}"
    );
}

/// `--on` matches names without regard to case, as the platforms do, and answers in the
/// target's spelling; a last name nothing is granted on is answered through what encloses
/// it, with a note (and the known name it nearly matches); an unknown name before the
/// last, a path too deep or an empty name is an error, never an invented resource.
/// `--who` by a username finds the person on every target.
#[test]
fn on_paths_are_matched_as_the_platform_matches_names() {
    let (_tmp, dir) = example("northwind");
    let lines = |args: &[&str]| -> Vec<String> {
        let (code, out, err) = run(&dir, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out.lines().filter(|l| l.starts_with("  ")).map(str::to_owned).collect()
    };
    let exact = lines(&["access", ".", "--on", "bitbucket:API/payments"]);
    assert!(!exact.is_empty());
    assert_eq!(lines(&["access", ".", "--on", "bitbucket:api/PAYMENTS"]), exact);
    assert_eq!(
        lines(&["access", ".", "--on", "directory:Mobile"]),
        lines(&["access", ".", "--on", "directory:mobile"])
    );
    // The root's key, in any case, is the root: only where the platform has one.
    let root = lines(&["access", ".", "--on", "bitbucket:global"]);
    assert!(root.iter().all(|l| l.contains(" on global permissions (")), "{root:#?}");
    assert_eq!(lines(&["access", ".", "--on", "bitbucket:GLOBAL"]), root);
    for (on, says) in [
        ("bitbucket:NOPE/x", "nothing on bitbucket is named `NOPE`"),
        ("bitbucket:APO/payments", "did you mean `bitbucket:API/payments`?"),
        ("bitbucket:API/", "write `--on bitbucket:API`"),
        (
            "bitbucket:API/payments/x",
            "nothing on bitbucket is inside `API/payments`",
        ),
        ("buildkite:deploy-api/x", "write `--on buildkite:deploy-api`"),
        ("directory:nope", "directory has account, backend"),
    ] {
        let (code, out, err) = run(&dir, &["access", ".", "--on", on]);
        assert_eq!(code, Some(1), "{on}: {out}");
        assert!(err.contains(says), "{on}: {err}");
    }
    // A last name nothing is granted on is answered through what encloses it, and said
    // so: a repository through its project, a near miss with the name it nearly is, a
    // top-level pipeline through the organization's administrators (on Buildkite,
    // `global` is a pipeline's name like any other).
    for (on, says, answer) in [
        (
            "bitbucket:MOB/ios-app",
            "Nothing is granted on bitbucket:MOB/ios-app itself",
            "on repository MOB/ios-app (PROJECT_WRITE on project MOB via mobile)",
        ),
        (
            "bitbucket:api/payment",
            "cannot tell whether it exists. Did you mean `bitbucket:API/payments`?",
            "write on repository API/payment (PROJECT_WRITE on project API via backend)",
        ),
        (
            "buildkite:docs-site",
            "Nothing is granted on buildkite:docs-site itself",
            "admin on pipeline docs-site (ADMIN on organization role)",
        ),
        (
            "buildkite:global",
            "Nothing is granted on buildkite:global itself",
            "admin on pipeline global (ADMIN on organization role)",
        ),
    ] {
        let (code, out, err) = run(&dir, &["access", ".", "--on", on]);
        assert_eq!(code, Some(0), "{on}: {err}");
        assert!(err.contains(says), "{on}: {err}");
        assert!(out.contains(answer), "{on}: {out}");
    }
    // Live, every pipeline is read, yet one no team has is in no grant: docs-site.
    let (code, out, err) = run(&dir, &["access", ".", "--live", "--on", "buildkite:docs-site"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("dave <dave@northwind.example>\n  buildkite: admin on pipeline docs-site"),
        "{out}"
    );

    let by_username = lines(&["access", ".", "--who", "cdiaz"]);
    assert_eq!(by_username, lines(&["access", ".", "--who", "carol"]));
    assert!(
        by_username.iter().any(|l| l.starts_with("  directory:")),
        "{by_username:#?}"
    );
    let (_, csv, _) = run(&dir, &["access", ".", "--who", "carol", "--format", "csv"]);
    assert!(
        csv.starts_with("person,account,email,") && csv.contains("\r\ncarol,cdiaz,carol@contractor.example,bitbucket,"),
        "{csv}"
    );
}

/// Where access is membership, a group's name is one whole name, `/` and all, matched in
/// any case as lower-cased text: `eng` is not `eng/backend`, `ops/` is a name, and
/// `ärzte` is `Ärzte`.
#[test]
fn a_group_name_is_a_whole_name_where_access_is_membership() {
    let (tmp, dir) = example("northwind");
    let sandbox = tmp.path().join("sandbox/directory.yaml");
    let mut state = std::fs::read_to_string(&sandbox).unwrap();
    for (id, name, user) in [
        ("g-eng", "eng", "u-bob"),
        ("g-eng-backend", "eng/backend", "u-dave"),
        ("g-ops", "ops/", "u-judy"),
        ("g-aerzte", "Ärzte", "u-heidi"),
    ] {
        state += &format!("- id: {id}\n  displayName: {name}\n  members: [{{ value: {user} }}]\n");
    }
    std::fs::write(&sandbox, state).unwrap();
    for (on, who, group) in [
        ("directory:ENG", "bob", "eng"),
        ("directory:eng/backend", "dave", "eng/backend"),
        ("directory:ops/", "judy", "ops/"),
        ("directory:ärzte", "heidi", "Ärzte"),
    ] {
        let (code, out, err) = run(&dir, &["access", ".", "--live", "--on", on]);
        assert_eq!(code, Some(0), "{on}: {err}");
        let people: Vec<&str> = out
            .lines()
            .filter(|l| !l.starts_with(' ') && l.contains(" <"))
            .collect();
        assert_eq!(people.len(), 1, "{on}: {out}");
        assert!(people[0].starts_with(&format!("{who} <")), "{on}: {out}");
        assert!(
            out.contains(&format!("  directory: member of group {group}\n")),
            "{on}: {out}"
        );
    }
}

/// A live read lists every project and repository, so `--live` knows which exist: one
/// nothing is granted on is answered without a doubt, one that is not there is an error.
#[test]
fn a_live_read_knows_which_scopes_exist() {
    let (_tmp, dir) = example("quickstart");
    let (code, out, err) = run(&dir, &["access", ".", "--live", "--on", "bitbucket:MOB/ios-app"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("cannot tell"), "{err}");
    assert!(out.contains("on repository MOB/ios-app"), "{out}");
    let (code, _, err) = run(&dir, &["access", ".", "--live", "--on", "bitbucket:NOPE"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nothing on bitbucket is named `NOPE`"), "{err}");
    let (code, _, err) = run(&dir, &["access", ".", "--live", "--on", "bitbucket:MOB/ios-ap"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("did you mean `bitbucket:MOB/ios-app`?"), "{err}");
    // From the manifests, which list no repositories, the same path is answered through
    // its project, with the doubt said.
    let (code, _, err) = run(&dir, &["access", ".", "--on", "bitbucket:MOB/ios-app"]);
    assert_eq!(code, Some(0));
    assert!(err.contains("cannot tell whether it exists"), "{err}");
}
