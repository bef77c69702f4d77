//! `rollcall import` end to end: every sandbox state in the repository (the examples', the
//! test fixtures', the documentation's) and seeded generated ones (Bitbucket Data Center
//! and both SCIM profiles, alone and together) import into manifests that `rollcall plan`
//! finds nothing to do for; `--target`, the refusal to touch an OUT that holds manifests,
//! `--force` and its diffs, byte-identical output, token references, and exit codes.

use crate::common;
use crate::docs_snippets::all_blocks;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use rollcall::sandbox::buildkite::BkState;
use rollcall::sandbox::scim::state::{Email, Member, Meta, ScimGroup, ScimUser};
use rollcall::sandbox::scim::{ProfileName, ScimState};
use rollcall::sandbox::state::{DcProject, DcRepo, DcState, DcUser, StateFile};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rollcall(dir: &Path, args: &[&str]) -> (i32, String, String) {
    rollcall_env(dir, args, &[])
}

fn rollcall_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Imports `manifests` (relative to `dir`) into `out`, then plans `out`: there must be
/// nothing to do. Returns the import's stdout.
fn import_then_plan(dir: &Path, manifests: &str, out: &str, extra: &[&str]) -> String {
    let mut args = vec!["import", manifests, "--out", out];
    args.extend(extra);
    let (code, stdout, stderr) = rollcall(dir, &args);
    assert_eq!(code, 0, "import {manifests} {extra:?}:\n{stdout}\n{stderr}");
    let (code, plan, stderr) = rollcall(dir, &["plan", out, "--detailed-exitcode"]);
    assert_eq!(
        code,
        0,
        "the plan of the import of {manifests} {extra:?} is not empty:\n{plan}\n{stderr}\n{}",
        files(&dir.join(out))
            .iter()
            .map(|(name, text)| format!("--- {name}\n{text}"))
            .collect::<String>()
    );
    assert!(plan.contains("No changes."), "{plan}");
    stdout
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                found.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    found
}

/// A manifest directory `manifests/` with one target for the state file at
/// `sandbox/state.yaml`, of the kind (and profile) the state is.
fn manifest_for_state(dir: &Path, state: &str) {
    let target = if state.lines().any(|l| l.trim_start().starts_with("kind: scim")) {
        let profile = ScimState::parse(state).unwrap().profile;
        let profile = serde_json::to_value(profile).unwrap();
        format!(
            "  directory:\n    kind: scim\n    profile: {}\n    url: sandbox:../sandbox/state.yaml\n",
            profile.as_str().unwrap()
        )
    } else if let Ok(bk) = BkState::parse(state) {
        format!(
            "  buildkite:\n    kind: buildkite\n    url: sandbox:../sandbox/state.yaml\n    organization: {}\n",
            bk.organization.slug
        )
    } else {
        "  bitbucket:\n    kind: bitbucket-datacenter\n    url: sandbox:../sandbox/state.yaml\n".to_owned()
    };
    std::fs::create_dir_all(dir.join("sandbox")).unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(dir.join("sandbox/state.yaml"), state).unwrap();
    std::fs::write(dir.join("manifests/targets.yaml"), format!("targets:\n{target}")).unwrap();
}

/// The text of every sandbox state file under `dir`.
fn state_files(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            state_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if is_state(&text) {
                let name = path.strip_prefix(root()).unwrap().display().to_string();
                found.push((name, text));
            }
        }
    }
}

fn is_state(text: &str) -> bool {
    let scim = text.lines().any(|l| l.starts_with("kind: scim")) && ScimState::parse(text).is_ok();
    let dc = text.lines().any(|l| l.starts_with("operator:")) && DcState::parse(text).is_ok();
    let bk = text.lines().any(|l| l.starts_with("kind: buildkite")) && BkState::parse(text).is_ok();
    scim || dc || bk
}

#[test]
fn every_sandbox_state_in_the_repository_imports_to_an_empty_plan() {
    let mut states = Vec::new();
    state_files(&root().join("examples"), &mut states);
    state_files(&root().join("tests"), &mut states);
    for block in all_blocks()
        .into_iter()
        .filter(|b| b.lang == "yaml" && is_state(&b.body))
    {
        states.push((format!("{}:{}", block.file, block.line), block.body));
    }
    let names: Vec<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
    // The examples' six (northwind's three, quickstart's, group-sync's two), the
    // fixtures' three, and the three in docs/sandbox.md.
    assert_eq!(states.len(), 12, "{names:#?}");
    for (name, state) in &states {
        let work = tempfile::tempdir().unwrap();
        manifest_for_state(work.path(), state);
        let out = import_then_plan(work.path(), "manifests", "imported", &[]);
        assert!(
            out.contains("Planned against the state just read: no changes"),
            "{name}: {out}"
        );
        let imported = std::fs::read_to_string(work.path().join("imported/targets.yaml")).unwrap();
        assert!(imported.contains("sandbox:../sandbox/state.yaml"), "{name}: {imported}");
    }
    eprintln!("imported and planned {} sandbox states: {names:#?}", states.len());
}

#[test]
fn the_examples_import_whole_and_target_by_target() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples"), &work.path().join("examples"));
    let before = files(&work.path().join("examples"));
    let cases: &[(&str, &[&str])] = &[
        ("examples/quickstart/manifests", &[]),
        ("examples/northwind/manifests", &[]),
        ("examples/northwind/manifests", &["--target", "bitbucket"]),
        ("examples/northwind/manifests", &["--target", "directory"]),
    ];
    for (i, (manifests, extra)) in cases.iter().enumerate() {
        let out = format!("imported-{i}");
        import_then_plan(work.path(), manifests, &out, extra);
        let targets = std::fs::read_to_string(work.path().join(&out).join("targets.yaml")).unwrap();
        let example = manifests.trim_end_matches("/manifests");
        assert!(
            targets.contains(&format!("url: \"sandbox:../{example}/sandbox/")),
            "{targets}"
        );
    }
    assert_eq!(
        before,
        files(&work.path().join("examples")),
        "import and plan leave the examples as they were"
    );

    // The quickstart's instance as a manifest: every person, with their ids and groups,
    // and every grant in every project, in the manifest's words.
    let people = std::fs::read_to_string(work.path().join("imported-0/people.yaml")).unwrap();
    assert!(people.contains("  cdiaz:\n    name: Carol Diaz\n"), "{people}");
    let access = std::fs::read_to_string(work.path().join("imported-0/access/bitbucket.yaml")).unwrap();
    assert!(access.contains("        admin: SYS_ADMIN\n"), "{access}");
    assert!(access.contains("      PLAT:\n"), "{access}");
}

#[test]
fn two_targets_join_people_by_email_and_comment_what_they_cannot_declare() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/northwind"), work.path());
    let (code, stdout, stderr) = rollcall(
        work.path(),
        &[
            "import",
            "manifests",
            "--out",
            "imported",
            "--target",
            "bitbucket,directory",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let people = std::fs::read_to_string(work.path().join("imported/people.yaml")).unwrap();
    // On both targets with one email: one person.
    assert!(
        people.contains("  alice:\n    name: Alice Liddell\n    email: alice@northwind.example\n"),
        "{people}"
    );
    // On one target only: a declared user would be created on the other.
    assert!(
        people.contains("# not imported: `heidi`: it has no account on `bitbucket`"),
        "{people}"
    );
    // No externalId: declaring the person would set one.
    assert!(
        people.contains("# not imported: `mallory`: it has no externalId on `directory`"),
        "{people}"
    );
    let groups = std::fs::read_to_string(work.path().join("imported/groups.yaml")).unwrap();
    assert!(groups.contains("  contractors:\n    members: []\n"), "{groups}");
    assert!(groups.contains("    targets:\n      - directory\n"), "{groups}");
    // Each comment is listed on stderr, where it is in which file.
    assert!(
        stderr.contains("note: groups.yaml: groups.platform.members: not imported: `judy` is a member on `directory` but not on `bitbucket`"),
        "{stderr}"
    );
    let noted = stderr.lines().filter(|l| l.starts_with("note: ")).count();
    let commented: usize = files(&work.path().join("imported"))
        .values()
        .map(|text| text.matches("# not imported:").count())
        .sum();
    assert_eq!(noted, commented, "{stderr}");
    assert!(
        stdout.contains(&format!("{noted} thing(s) could not be stated exactly")),
        "{stdout}"
    );
    // People once each, and the accounts they are on both targets.
    let declared = people.matches("\n    email: ").count();
    assert!(
        stdout.contains(&format!(": {declared} person(s) ({} user account(s)), ", 2 * declared)),
        "{stdout}"
    );
}

#[test]
fn target_picks_the_targets_and_an_unknown_one_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/northwind"), work.path());
    let (code, _, stderr) = rollcall(
        work.path(),
        &["import", "manifests", "--out", "dir-only", "--target", "directory"],
    );
    assert_eq!(code, 0, "{stderr}");
    let imported = files(&work.path().join("dir-only"));
    assert!(!imported["targets.yaml"].contains("bitbucket"), "{imported:#?}");
    assert!(
        !imported.keys().any(|f| f.starts_with("access")),
        "no grants on SCIM: {imported:#?}"
    );
    // Alone, the directory's people are all declarable: nobody is missing elsewhere.
    assert!(
        imported["people.yaml"].contains("  heidi:\n"),
        "{}",
        imported["people.yaml"]
    );

    let (code, stdout, stderr) = rollcall(
        work.path(),
        &["import", "manifests", "--out", "typo", "--target", "bitbuckt"],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("--target `bitbuckt`"), "{stderr}");
    assert!(stderr.contains("did you mean `bitbucket`?"), "{stderr}");
    assert!(!work.path().join("typo").exists(), "nothing written");
}

#[test]
fn an_out_holding_manifests_is_refused_unless_forced_and_force_shows_each_diff() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/quickstart"), work.path());
    import_then_plan(work.path(), "manifests", "imported", &[]);
    let out = work.path().join("imported");
    let first = files(&out);

    // Without --force: refused, exit 1, nothing read or written.
    std::fs::write(out.join("people.yaml"), "users: {}\n").unwrap();
    let (code, stdout, stderr) = rollcall(work.path(), &["import", "manifests", "--out", "imported"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("already holds manifest files"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("people.yaml")).unwrap(), "users: {}\n");

    // With it: the edited file is written back with a unified diff, a removed one is
    // created again, the others are left alone; an extra manifest file is named.
    let groups = std::fs::read_to_string(out.join("groups.yaml")).unwrap();
    std::fs::write(out.join("groups.yaml"), groups.replace("      - mallory\n", "")).unwrap();
    std::fs::remove_file(out.join("policy.yaml")).unwrap();
    std::fs::write(out.join("extra.yaml"), "# someone's notes\n").unwrap();
    let (code, stdout, stderr) = rollcall(work.path(), &["import", "manifests", "--out", "imported", "--force"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let shown = |f: &str| Path::new("imported").join(f).display().to_string();
    assert!(
        stdout.contains(&format!("changed {}\n", shown("people.yaml"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("changed {}\n", shown("groups.yaml"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("created {}\n", shown("policy.yaml"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("unchanged {}\n", shown("targets.yaml"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "--- {} (before)\n+++ {} (imported)\n",
            shown("people.yaml"),
            shown("people.yaml")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("-users: {}\n+# Imported by `rollcall import`"),
        "{stdout}"
    );
    assert!(stdout.contains("@@ "), "{stdout}");
    assert!(
        stdout.contains("       - bob\n+      - mallory\n"),
        "a diff with context: {stdout}"
    );
    assert!(
        !stdout.contains(&format!("--- {} (before)", shown("targets.yaml"))),
        "{stdout}"
    );
    assert!(
        stderr.contains("also holds extra.yaml, which this import did not write"),
        "{stderr}"
    );
    std::fs::remove_file(out.join("extra.yaml")).unwrap();
    assert_eq!(files(&out), first, "forced, the import is what it was");
}

#[test]
fn importing_twice_writes_the_same_bytes() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/northwind"), work.path());
    import_then_plan(work.path(), "manifests", "one", &[]);
    import_then_plan(work.path(), "manifests", "two", &[]);
    let (one, two) = (files(&work.path().join("one")), files(&work.path().join("two")));
    assert_eq!(one.keys().collect::<Vec<_>>(), two.keys().collect::<Vec<_>>());
    for (name, text) in &one {
        assert!(two[name] == *text, "{name} differs between two imports");
    }
    // Forced again over itself, nothing changes.
    let (code, stdout, _) = rollcall(work.path(), &["import", "manifests", "--out", "one", "--force"]);
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .all(|l| !l.starts_with("changed ") && !l.starts_with("created ")),
        "{stdout}"
    );
    assert_eq!(files(&work.path().join("one")), one);
}

#[test]
fn tokens_stay_references_and_relative_paths_follow_the_output() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/quickstart"), work.path());
    // A sandbox takes no token, but the references are still written as DIR has them.
    let targets =
        "targets:\n  bitbucket:\n    kind: bitbucket-datacenter\n    url: sandbox:../sandbox/bitbucket.yaml\n    \
                   auth: { username: admin, token: \"${env:BB_TOKEN}\" }\n    notify_new_users: false\n  \
                   other:\n    kind: bitbucket-datacenter\n    url: sandbox:../sandbox/bitbucket.yaml\n    \
                   auth: { token: \"${file:secrets/token}\", account: svc }\n";
    std::fs::write(work.path().join("manifests/targets.yaml"), targets).unwrap();
    let secret = "do-not-print-7f3a9c";
    let (code, stdout, stderr) = rollcall_env(
        work.path(),
        &["import", "manifests", "--out", "deep/imported", "--target", "bitbucket"],
        &[("BB_TOKEN", secret)],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let imported = files(&work.path().join("deep/imported"));
    let targets = &imported["targets.yaml"];
    assert!(
        targets.contains("url: \"sandbox:../../sandbox/bitbucket.yaml\""),
        "{targets}"
    );
    assert!(
        targets.contains("      username: admin\n      token: \"${env:BB_TOKEN}\"\n"),
        "{targets}"
    );
    assert!(targets.contains("    notify_new_users: false\n"), "{targets}");
    assert!(!targets.contains("other"), "{targets}");
    for text in imported.values().chain([&stdout, &stderr]) {
        assert!(!text.contains(secret));
    }

    // A `${file:…}` reference relative to the manifests is rewritten for the output
    // directory, like a sandbox path; the account of a Bearer token stays.
    let (code, stdout, stderr) = rollcall(
        work.path(),
        &["import", "manifests", "--out", "deep/other", "--target", "other"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let targets = std::fs::read_to_string(work.path().join("deep/other/targets.yaml")).unwrap();
    assert!(
        targets.contains("      account: svc\n      token: \"${file:../../manifests/secrets/token}\"\n"),
        "{targets}"
    );
}

#[test]
fn errors_exit_1_and_write_nothing() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/quickstart"), work.path());
    // A manifest problem in DIR.
    std::fs::write(work.path().join("manifests/broken.yaml"), "users: [\n").unwrap();
    let (code, _, stderr) = rollcall(work.path(), &["import", "manifests", "--out", "imported"]);
    assert_eq!(code, 1, "{stderr}");
    std::fs::remove_file(work.path().join("manifests/broken.yaml")).unwrap();
    // OUT inside DIR, or DIR inside OUT: each would be read with the other.
    for out in ["manifests/imported", "."] {
        let (code, _, stderr) = rollcall(work.path(), &["import", "manifests", "--out", out, "--force"]);
        assert_eq!(code, 1, "{out}: {stderr}");
        assert!(stderr.contains("contain one another"), "{stderr}");
    }
    // OUT is a file.
    std::fs::write(work.path().join("file"), "").unwrap();
    let (code, _, stderr) = rollcall(work.path(), &["import", "manifests", "--out", "file"]);
    assert_eq!(code, 1, "{stderr}");
    // A sandbox state that cannot be read.
    std::fs::remove_file(work.path().join("sandbox/bitbucket.yaml")).unwrap();
    let (code, _, stderr) = rollcall(work.path(), &["import", "manifests", "--out", "imported"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!work.path().join("imported").exists());
    assert!(!work.path().join("manifests/imported").exists());
}

// ---------------------------------------------------------------------------------------
// Generated sandbox states

/// xorshift64*: a seeded, reproducible stream, enough to draw states from.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// (username, display name, email): ordinary people first, then ones a manifest cannot
/// take as they are.
const PEOPLE: &[(&str, &str, &str)] = &[
    ("alice", "Alice Liddell", "alice@example.com"),
    ("bob", "Bob Stone", "bob@example.com"),
    ("cdiaz", "Carol Diaz", "carol@contractor.example"),
    ("dave", "Dave Okafor", "dave@example.com"),
    ("erin", "Erin Walsh", "erin@example.com"),
    ("zoë", "Zoë Ångström", "zoe@example.com"),
    ("grace.h", "Grace Hopper-Lee", "grace@example.com"),
    ("ivan", "Ivan", "ivan@example.com"),
    ("alice2", "Alice Again", "ALICE@example.com"),
    ("bad name", "Bad Name", "bad@example.com"),
    ("judy", "", "judy@example.com"),
    ("mallory", " Padded", "not-an-email"),
];
const GROUPS: &[&str] = &["platform", "backend", "qa team", "stash-users", "bad/name", "2fa"];
const PROJECTS: &[&str] = &["PLAT", "API", "MOB", "~ALICE"];
const REPOS: &[&str] = &["api", "infra", "web-app", "Bad Repo"];

/// Which accounts each person has on each target: `None` where they have none.
struct Drawn {
    /// Per person, per target.
    accounts: Vec<Vec<Option<Account>>>,
}

struct Account {
    username: String,
    name: String,
    email: String,
    active: bool,
    external_id: Option<String>,
}

fn draw_people(rng: &mut Rng, targets: usize) -> Drawn {
    let mut accounts = Vec::new();
    for &(username, name, email) in PEOPLE {
        if !rng.chance(70) {
            continue;
        }
        let on = (0..targets)
            .map(|_| {
                rng.chance(90).then(|| {
                    let username = if rng.chance(5) {
                        format!("{username}.x")
                    } else {
                        username.to_owned()
                    };
                    let email = if rng.chance(4) {
                        "other@example.com".to_owned()
                    } else {
                        email.to_owned()
                    };
                    let external = match rng.below(20) {
                        0 => None,
                        1 => Some("someone-else".to_owned()),
                        _ => Some(username.clone()),
                    };
                    Account {
                        username,
                        name: name.to_owned(),
                        email,
                        active: !rng.chance(8),
                        external_id: external,
                    }
                })
            })
            .collect();
        accounts.push(on);
    }
    Drawn { accounts }
}

fn dc_state(rng: &mut Rng, drawn: &Drawn, target: usize) -> DcState {
    let mut s = DcState {
        operator: "admin".into(),
        ..DcState::default()
    };
    s.users.insert(
        "admin".into(),
        DcUser {
            display_name: "Admin".into(),
            email: "admin@example.com".into(),
            active: true,
        },
    );
    s.global.users.insert("admin".into(), "SYS_ADMIN".into());
    let users: Vec<String> = drawn
        .accounts
        .iter()
        .filter_map(|p| p[target].as_ref())
        .map(|a| {
            let user = DcUser {
                display_name: a.name.clone(),
                email: a.email.clone(),
                active: true,
            };
            s.users.insert(a.username.clone(), user);
            a.username.clone()
        })
        .collect();
    let groups: Vec<String> = GROUPS
        .iter()
        .filter(|_| rng.chance(75))
        .map(|g| (*g).to_owned())
        .collect();
    for g in &groups {
        let members: BTreeSet<String> = users.iter().filter(|_| rng.chance(40)).cloned().collect();
        s.groups.insert(g.clone(), members);
    }
    let grants = |rng: &mut Rng, natives: &[&str], s: &mut rollcall::sandbox::state::Grants| {
        for _ in 0..rng.below(4) {
            let permission = (*rng.pick(natives)).to_owned();
            if rng.chance(50) && !users.is_empty() {
                s.users.insert(rng.pick(&users).clone(), permission);
            } else if !groups.is_empty() {
                s.groups.insert(rng.pick(&groups).clone(), permission);
            }
        }
    };
    grants(
        rng,
        &["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"],
        &mut s.global,
    );
    let projects: Vec<&str> = PROJECTS.iter().copied().filter(|_| rng.chance(70)).collect();
    for key in projects {
        let mut project = DcProject {
            name: key.to_string(),
            ..DcProject::default()
        };
        match rng.below(4) {
            0 => {
                project.all_users.insert("PROJECT_READ".into());
            }
            1 => {
                project.all_users.insert("PROJECT_WRITE".into());
            }
            _ => {}
        }
        grants(
            rng,
            &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"],
            &mut project.grants,
        );
        let repos: Vec<&str> = REPOS.iter().copied().filter(|_| rng.chance(50)).collect();
        for slug in repos {
            let mut repo = DcRepo::default();
            grants(rng, &["REPO_READ", "REPO_WRITE", "REPO_ADMIN"], &mut repo.grants);
            project.repos.insert(slug.to_owned(), repo);
        }
        s.projects.insert(key.to_owned(), project);
    }
    s
}

fn scim_state(rng: &mut Rng, drawn: &Drawn, target: usize, profile: ProfileName) -> ScimState {
    let mut s = ScimState {
        profile,
        directory_id: "d1".into(),
        ..ScimState::default()
    };
    for (i, p) in drawn.accounts.iter().enumerate() {
        let Some(a) = &p[target] else {
            continue;
        };
        s.users.push(ScimUser {
            id: format!("u{i}"),
            user_name: a.username.clone(),
            external_id: a.external_id.clone(),
            name: None,
            display_name: Some(a.name.clone()).filter(|n| !n.is_empty()),
            emails: vec![Email {
                value: a.email.clone(),
                kind: Some("work".into()),
                primary: Some(true),
            }],
            active: Some(a.active),
            meta: Meta::default(),
        });
    }
    let ids: Vec<String> = s.users.iter().map(|u| u.id.clone()).collect();
    let groups: Vec<(usize, &str)> = GROUPS.iter().copied().enumerate().filter(|_| rng.chance(70)).collect();
    for (g, name) in groups {
        let members = ids
            .iter()
            .filter(|_| rng.chance(40))
            .map(|id| Member { value: id.clone() })
            .collect();
        s.groups.push(ScimGroup {
            id: format!("g{g}"),
            display_name: name.to_owned(),
            external_id: None,
            members,
            meta: Meta::default(),
        });
    }
    s
}

/// Seeded states for one to three targets of both platforms and both SCIM profiles,
/// each imported (all targets) and planned.
#[test]
fn generated_sandbox_states_import_to_an_empty_plan() {
    let combos: &[&[&str]] = &[
        &["dc"],
        &["rfc"],
        &["atlassian"],
        &["dc", "atlassian"],
        &["dc", "rfc", "dc"],
    ];
    let seeds = 4;
    let mut imported = 0;
    for seed in 0..seeds {
        for (c, combo) in combos.iter().enumerate() {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed * 31 + c as u64 + 1));
            let drawn = draw_people(&mut rng, combo.len());
            let work = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(work.path().join("sandbox")).unwrap();
            std::fs::create_dir_all(work.path().join("manifests")).unwrap();
            let mut targets = String::from("targets:\n");
            for (t, kind) in combo.iter().enumerate() {
                let file = format!("sandbox/t{t}.yaml");
                let (yaml, target) = match *kind {
                    "dc" => (
                        dc_state(&mut rng, &drawn, t).to_yaml().unwrap(),
                        "kind: bitbucket-datacenter".to_owned(),
                    ),
                    profile => {
                        let p = if profile == "rfc" {
                            ProfileName::Rfc
                        } else {
                            ProfileName::Atlassian
                        };
                        let yaml = scim_state(&mut rng, &drawn, t, p).to_yaml().unwrap();
                        (yaml, format!("kind: scim\n    profile: {profile}"))
                    }
                };
                std::fs::write(work.path().join(&file), yaml).unwrap();
                targets.push_str(&format!("  t{t}:\n    {target}\n    url: sandbox:../{file}\n"));
            }
            std::fs::write(work.path().join("manifests/targets.yaml"), targets).unwrap();
            let before = files(&work.path().join("sandbox"));
            import_then_plan(work.path(), "manifests", "imported", &[]);
            assert_eq!(before, files(&work.path().join("sandbox")), "import changes no state");
            imported += 1;
        }
    }
    assert_eq!(imported, seeds as usize * combos.len());
}

/// The generated states hold what the manifest cannot say, so some of them must leave
/// comments, and the ordinary people must be declared: the generator is not vacuous.
#[test]
fn generated_states_declare_people_and_leave_comments() {
    let mut rng = Rng(7);
    let drawn = draw_people(&mut rng, 1);
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("sandbox")).unwrap();
    std::fs::create_dir_all(work.path().join("manifests")).unwrap();
    let yaml = dc_state(&mut rng, &drawn, 0).to_yaml().unwrap();
    std::fs::write(work.path().join("sandbox/bb.yaml"), yaml).unwrap();
    std::fs::write(
        work.path().join("manifests/targets.yaml"),
        "targets:\n  bb:\n    kind: bitbucket-datacenter\n    url: sandbox:../sandbox/bb.yaml\n",
    )
    .unwrap();
    let stdout = import_then_plan(work.path(), "manifests", "imported", &[]);
    let people = std::fs::read_to_string(work.path().join("imported/people.yaml")).unwrap();
    let declared = people
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.trim_start().starts_with('#'))
        .count();
    assert!(declared >= 4, "{people}");
    assert!(stdout.contains("could not be stated exactly"), "{stdout}");
}

/// The Bitbucket Cloud example: the directory (`org`) and the workspace that takes its
/// people and groups from it (`cloud`). The directory is read first, so the workspace's
/// grants name people and groups as it does. The import's plan is empty, exit 0, though
/// the example's own manifests hold a grant (`nadia`'s, who has no account yet): import
/// declares grants only to holders the workspace has, so there is nothing to hold.
#[test]
fn a_bitbucket_cloud_workspace_imports_with_its_directory() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/bitbucket-cloud"), work.path());
    let stdout = import_then_plan(work.path(), "manifests", "imported", &[]);
    // The directory's 14 people (nadia has no account yet); its 4 groups, `contractors`
    // among them; 19 memberships: engineering's 12, platform's 3 and payments' 4 (the
    // synced group's members are not declared); 9 grants: 2 on PLAT, 1 on
    // terraform-modules, 2 on API, 2 on payments, 1 on gateway, 1 on android-app. No
    // user accounts: neither target holds people as objects of its plan.
    assert!(
        stdout.contains(
            "Imported `cloud`, `org` into imported: 14 person(s), 4 group(s), 19 membership(s), 9 permission(s).\n"
        ),
        "{stdout}"
    );
    let read = |f: &str| std::fs::read_to_string(work.path().join("imported").join(f)).unwrap();

    // People from the directory, members of no group (the owner) and of no group that
    // gives access to the workspace (kofi) included: declaring them plans nothing there.
    // Each is keyed by their directory nickname, theirs alone.
    let people = read("people.yaml");
    for who in ["priya", "kofi", "sam"] {
        assert!(
            people.contains(&format!("  {who}:\n")) && people.contains(&format!("    email: {who}@fernhill.example\n")),
            "{people}"
        );
    }
    let groups = read("groups.yaml");
    // With the description the directory stores.
    assert!(
        groups.contains("  platform:\n    description: Platform engineering\n    members:\n      - lena\n"),
        "{groups}"
    );
    // Groups are on both targets: the workspace's grants name them.
    assert!(!groups.contains("targets:"), "{groups}");
    // A synced group is declared, its members not, and the comment says why.
    assert!(
        groups.contains("  contractors:\n    members: []\n      # not imported: its members on `org`: synced from an identity provider"),
        "{groups}"
    );

    // Grants by key and group name, in the manifest's words.
    let access = read("access/cloud.yaml");
    assert!(
        access.contains(
            "          payments:\n            users:\n              hugo: write\n              tomas: admin\n"
        ),
        "{access}"
    );
    assert!(
        access.contains("      PLAT:\n        groups:\n          engineering: read\n          platform: write\n"),
        "{access}"
    );
    let targets = read("targets.yaml");
    assert!(
        targets.contains("    workspace: fernhill\n    principals_from: org\n"),
        "{targets}"
    );

    // The workspace alone: grants to people and groups it cannot name are comments, and
    // the source it takes its principals from is not named.
    let stdout = import_then_plan(work.path(), "manifests", "alone", &["--target", "cloud"]);
    assert!(stdout.contains("Imported `cloud`"), "{stdout}");
    let alone = std::fs::read_to_string(work.path().join("alone/targets.yaml")).unwrap();
    assert!(alone.contains("# not imported: `principals_from: org`"), "{alone}");
    let access = std::fs::read_to_string(work.path().join("alone/access/cloud.yaml")).unwrap();
    assert!(access.contains("# not imported: account `557058:672cba5e"), "{access}");
}

/// A Buildkite organization alone: people by email (its only name for them), teams with
/// their settings and maintainers, the pending invitation as a person with their team,
/// pipeline access and admins in the manifest's words; never a node id. With Bitbucket
/// imported along, Buildkite's members are the same people under Bitbucket's keys.
#[test]
fn a_buildkite_organization_imports_by_emails_and_slugs() {
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/northwind"), work.path());
    let out = import_then_plan(work.path(), "manifests", "bk", &["--target", "buildkite"]);
    assert!(out.contains("Planned against the state just read: no changes"), "{out}");
    let imported = files(&work.path().join("bk"));
    let all: String = imported.values().cloned().collect();
    // Node ids are base64 of `Type---uuid`: `VGVhbS0tLS` is `Team---`.
    for id_prefix in ["VGVhbS0tLS", "VXNlci0tLS", "T3JnYW5pemF0aW9u", "UGlwZWxpbmUtLS0"] {
        assert!(!all.contains(id_prefix), "a node id in {all}");
    }
    let people = &imported["people.yaml"];
    assert!(
        people.contains("  alice@northwind.example:\n    name: Alice Liddell\n"),
        "{people}"
    );
    // Invited, not accepted: declared, so the plan holds nothing for them.
    assert!(people.contains("  grace@northwind.example:\n"), "{people}");
    let groups = &imported["groups.yaml"];
    assert!(
        groups.contains(
            "  platform:\n    description: Platform engineering\n    members:\n      - bob.stone@northwind.example\n    maintainers:\n      - alice@northwind.example\n    privacy: secret\n    default_member_role: member\n    default_team: false\n"
        ),
        "{groups}"
    );
    assert!(groups.contains("      - grace@northwind.example\n"), "{groups}");
    let access = &imported["access/buildkite.yaml"];
    assert!(
        access.contains("    organization:\n      users:\n        alice@northwind.example: admin\n        dave@northwind.example: admin\n"),
        "{access}"
    );
    assert!(
        access.contains("      infra:\n        groups:\n          platform: admin\n"),
        "{access}"
    );

    // Along with Bitbucket, a member who is on both is one person under Bitbucket's key.
    let out = import_then_plan(work.path(), "manifests", "both", &["--target", "bitbucket,buildkite"]);
    assert!(out.contains("Planned against the state just read: no changes"), "{out}");
    let people = std::fs::read_to_string(work.path().join("both/people.yaml")).unwrap();
    assert!(
        people.contains("  alice:\n    name: Alice Liddell\n    email: alice@northwind.example\n"),
        "{people}"
    );
    assert!(!people.contains("ids:\n      buildkite"), "{people}");
}
