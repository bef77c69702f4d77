//! Each emulated source kind through the whole pipeline, as `rollcall` runs it: a group
//! that follows the source's engineering group (nested groups counted where the vendor
//! nests) feeds a Bitbucket Data Center sandbox, with the attribute map and a username
//! rule that collides; an outage fails the plan and an emptied group is refused after an
//! apply, so nobody is removed either way.

use std::path::{Path, PathBuf};

use crate::common;

/// One kind's case: its example state, the source's settings, its group, the names the
/// group's members get, the person whose name the map takes from `title`, and how that
/// kind spells the attributes.
struct Case {
    kind: &'static str,
    state: &'static str,
    settings: &'static str,
    group: &'static str,
    members: &'static [&'static str],
    titled: (&'static str, &'static str),
    title: &'static str,
    department: &'static str,
    /// The group's member list in the state, and the same list emptied.
    members_line: &'static str,
    emptied: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        kind: "okta",
        state: "okta.yaml",
        settings: "",
        group: "Engineering",
        // No nesting in Okta: the group's direct members, but for ivan, PROVISIONED (his
        // activation pending, so he cannot sign in yet).
        members: &["alice", "bob", "carol", "oscar"],
        titled: ("alice", "Staff Engineer"),
        title: "title",
        department: "department",
        members_line: "members: [alice@example.com, bob@example.com, carol@example.com, ivan@example.com, oscar@example.com]",
        emptied: "members: []",
    },
    Case {
        kind: "entra-id",
        state: "entra.yaml",
        settings: "    tenant: 5f0c8e2a-3b1d-4c7e-9a6f-2d4b8c1e0a73\n    auth: { client_id: 11111111-2222-4333-8444-555555555555 }\n",
        group: "Engineering",
        // Ada directly, Platform's and Frontend's members through them; the device is no person.
        members: &["ada", "bo", "chen", "dara", "eli", "fatima", "gus", "lea"],
        titled: ("ada", "Engineering Manager"),
        title: "jobTitle",
        department: "department",
        members_line: "members: [\"a0000001-0000-4000-8000-000000000001\", \"b0000002-0000-4000-8000-000000000002\", \"b0000002-0000-4000-8000-000000000003\", \"c0000003-0000-4000-8000-000000000001\"]",
        emptied: "members: []",
    },
    Case {
        kind: "google-workspace",
        state: "google.yaml",
        settings: "    auth: { key: \"${file:../google-service-account.json}\", subject: ada@example.com }\n",
        group: "engineering@example.com",
        // Margaret and Ada directly, Platform's and Kernel's members through them; the
        // partner's contractor is not in the directory, and Dennis is archived.
        members: &["ada", "barbara", "grace", "linus", "margaret"],
        titled: ("ada", "Staff Engineer"),
        title: "organizations.title",
        department: "organizations.department",
        members_line: "    members:\n      - { email: margaret@example.com, role: OWNER }\n      - { email: ada@example.com }\n      - { email: platform@example.com }\n      - { email: kernel@example.com }\n",
        emptied: "    members: []\n",
    },
];

const TARGET: &str = "operator: admin\nusers:\n  admin: { display_name: Admin, email: admin@example.net }\nglobal:\n  users:\n    admin: SYS_ADMIN\n";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sources")
}

/// A directory with the case's states and, in `m/`, its manifest with `people` under
/// the source.
fn setup(case: &Case, people: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(examples().join(case.state), dir.join(case.state)).unwrap();
    std::fs::copy(
        examples().join("google-service-account.json"),
        dir.join("google-service-account.json"),
    )
    .unwrap();
    std::fs::write(dir.join("bb.yaml"), TARGET).unwrap();
    let manifest = format!(
        "sources:\n  idp:\n    kind: {}\n    url: sandbox:../{}\n{}{people}targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: sandbox:../bb.yaml\n    notify_new_users: false\ngroups:\n  team:\n    members_from: [\"idp:{}\"]\n",
        case.kind, case.state, case.settings, case.group
    );
    std::fs::create_dir(dir.join("m")).unwrap();
    std::fs::write(dir.join("m/manifest.yaml"), manifest).unwrap();
    tmp
}

fn plan_json(dir: &Path) -> serde_json::Value {
    let (code, out, err) = common::run_in(dir, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_group_follows_the_source_group_with_its_nested_members() {
    for case in &CASES {
        let tmp = setup(case, &format!("    people:\n      map: {{ name: {} }}\n", case.title));
        let plan = plan_json(&tmp.path().join("m"));
        let changes = plan["changes"].as_array().unwrap();
        let mut members: Vec<String> = changes
            .iter()
            .filter(|c| c["resource"]["type"] == "membership" && c["resource"]["group"] == "team")
            .map(|c| c["resource"]["user"].as_str().unwrap().to_owned())
            .collect();
        members.sort();
        assert_eq!(members, case.members, "{}", case.kind);
        for c in changes.iter().filter(|c| c["resource"]["type"] == "membership") {
            assert_eq!(c["reason"], format!("in idp:{}", case.group), "{}", case.kind);
        }
        // The attribute map: the display name from the title.
        let (person, title) = case.titled;
        let user = changes
            .iter()
            .find(|c| c["resource"]["type"] == "user" && c["resource"]["name"] == person)
            .unwrap_or_else(|| panic!("{}: no user {person}", case.kind));
        assert_eq!(user["after"]["display_name"], title, "{}", case.kind);
    }
}

#[test]
fn a_username_rule_that_gives_two_people_one_name_is_reported() {
    for case in &CASES {
        let tmp = setup(
            case,
            &format!("    people:\n      username: \"attribute:{}\"\n", case.department),
        );
        let (code, _, err) = common::run_in(&tmp.path().join("m"), &["plan"]);
        assert_eq!(code, Some(1), "{}: {err}", case.kind);
        assert!(
            err.contains("would both be named `engineering`"),
            "{}: {err}",
            case.kind
        );
        assert!(err.contains("manifest.yaml:"), "{}: at the source: {err}", case.kind);
    }
}

#[test]
fn an_outage_or_an_emptied_group_removes_nobody() {
    for case in &CASES {
        let tmp = setup(case, "");
        let dir = tmp.path();
        let m = dir.join("m");
        let (code, _, err) = common::run_in(&m, &["apply", "--auto-approve"]);
        assert_eq!(code, Some(0), "{}: {err}", case.kind);
        let state = dir.join(case.state);
        let text = std::fs::read_to_string(&state).unwrap();

        std::fs::write(&state, format!("{text}faults: {{ seed: 3, unavailable: 1.0 }}\n")).unwrap();
        let (code, _, err) = common::run_in(&m, &["plan"]);
        assert_eq!(code, Some(1), "{}: {err}", case.kind);
        assert!(err.contains("cannot read the identity sources"), "{}: {err}", case.kind);

        assert!(
            text.contains(case.members_line),
            "{}: the state's group changed",
            case.kind
        );
        std::fs::write(&state, text.replace(case.members_line, case.emptied)).unwrap();
        let (code, _, err) = common::run_in(&m, &["plan"]);
        assert_eq!(code, Some(3), "{}: {err}", case.kind);
        assert!(
            err.contains(&format!("idp:{} came back empty", case.group)),
            "{}: {err}",
            case.kind
        );
        let bb = std::fs::read_to_string(dir.join("bb.yaml")).unwrap();
        assert!(bb.contains("team"), "{}", case.kind);
    }
}
