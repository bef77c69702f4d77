//! `import` over generated live states: whatever one to three targets (Bitbucket Data
//! Center, SCIM `rfc` and `atlassian`) hold, including what a manifest cannot state
//! (usernames that differ only in case, a person active on one target and inactive on
//! another, accounts without an externalId, invalid names and emails, permissions with no
//! role word, grants to people or groups that do not exist), the imported manifests load
//! from disk, resolve, and plan to no changes against that state; importing twice writes
//! the same bytes. The generator is drawn so that most people are importable, and the
//! test asserts that a share of them is, so an import that declared nothing could not pass.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{TestCaseError, TestRunner};
use rollcall::model::{Address, Principal, Resource, ResourceId, ResourceMap, Scope, UserAttrs};

/// The targets a case may have: (name, kind line, whether users have `active`).
const TARGETS: [(&str, &str, bool); 4] = [
    ("bb", "kind: bitbucket-datacenter\n    url: https://git.example.com\n    auth: { username: svc, token: \"${env:BB_TOKEN}\" }", false),
    ("dir", "kind: scim\n    profile: rfc\n    url: https://scim.example.com/scim/v2\n    auth: { token: \"${env:SCIM_TOKEN}\" }", true),
    ("idp", "kind: scim\n    profile: atlassian\n    url: https://api.atlassian.com/scim/directory/d1\n    auth: { token: \"${env:ATLASSIAN_KEY}\" }", true),
    ("bb2", "kind: bitbucket-datacenter\n    url: https://git2.example.com\n    auth: { token: \"${env:BB2_TOKEN}\", account: svc }", false),
];

/// A person as the targets know them: on each target, maybe an account.
#[derive(Debug, Clone)]
struct Person {
    username: &'static str,
    name: &'static str,
    email: &'static str,
    accounts: Vec<Option<Variant>>,
}

/// How one account departs from the person: mostly not at all.
#[derive(Debug, Clone)]
struct Variant {
    username: Option<&'static str>,
    name: Option<&'static str>,
    email: Option<&'static str>,
    inactive: bool,
    external_id: ExternalId,
}

#[derive(Debug, Clone)]
enum ExternalId {
    Key,
    Missing,
    Other(&'static str),
}

#[derive(Debug, Clone)]
struct World {
    targets: Vec<usize>,
    people: Vec<Person>,
    groups: Vec<(&'static str, Vec<bool>)>,
    /// (group, person, per target) and grants: indexes into the lists, drawn large.
    memberships: Vec<(usize, usize, Vec<bool>)>,
    grants: Vec<(usize, usize, usize, usize, usize)>,
}

/// People: most are ordinary, some are what a manifest cannot take as they are (the same
/// email as another, a username differing from another's only in case, a space in a
/// username, an apostrophe, no name, a padded name and a broken email).
const PEOPLE: &[(&str, &str, &str)] = &[
    ("alice", "Alice Liddell", "alice@example.com"),
    ("bob", "Bob Stone", "bob@example.com"),
    ("carol", "Carol Diaz", "carol@contractor.example"),
    ("dave", "Dave Okafor", "dave@example.com"),
    ("erin", "Erin Walsh", "erin@example.com"),
    ("frank", "Frank Moreau", "frank@example.com"),
    ("zoë", "Zoë Ångström", "zoe@example.com"),
    ("grace.h", "Grace Hopper-Lee", "grace@example.com"),
    ("heidi@corp", "Heidi Lund", "heidi@corp.example"),
    ("ivan", "Ivan", "ivan@example.com"),
    ("Alice", "Alice Again", "ALICE@example.com"),
    ("BOB", "Bob Upper", "bob.upper@example.com"),
    ("bad name", "Bad Name", "bad@example.com"),
    ("o'brien", "Pat O'Brien", "pat@example.com"),
    ("judy", "", "judy@example.com"),
    ("mallory", " Padded", "not-an-email"),
];
/// What an account's username, name, email or externalId may be instead.
const USERNAMES: &[&str] = &["alice", "cdiaz", "Dave", "ALICE", "x y", ""];
const NAMES: &[&str] = &["Alice  Liddell", "Tab\tName", "Quote \"Q\" Person", "no", ""];
const EMAILS: &[&str] = &["Alice@Example.com", "bob@example.com", "", " spaced@example.com"];
const GROUPS: &[&str] = &[
    "platform",
    "backend",
    "qa team",
    "Platform",
    "stash-users",
    "release-managers",
    "bad/name",
    "2fa",
    "mobile",
];
const PROJECTS: &[&str] = &["PLAT", "API", "MOB", "~ALICE", "plat"];
const REPOS: &[&str] = &["api", "infra", "web-app", "Bad Repo", "2fa.service"];
const PERMISSIONS: &[&[&str]] = &[
    &[
        "LICENSED_USER",
        "PROJECT_CREATE",
        "ADMIN",
        "SYS_ADMIN",
        "sys_admin",
        "REPO_READ",
    ],
    &[
        "PROJECT_READ",
        "PROJECT_WRITE",
        "PROJECT_ADMIN",
        "REPO_CREATE",
        "PROJECT_VIEW",
    ],
    &["REPO_READ", "REPO_WRITE", "REPO_ADMIN", "PROJECT_READ"],
    &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"],
];

fn variant() -> impl Strategy<Value = Option<Variant>> {
    let departs = (
        prop::option::weighted(0.04, select(USERNAMES)),
        prop::option::weighted(0.04, select(NAMES)),
        prop::option::weighted(0.04, select(EMAILS)),
        prop::bool::weighted(0.08),
        prop_oneof![
            16 => Just(ExternalId::Key),
            1 => Just(ExternalId::Missing),
            1 => select(USERNAMES).prop_map(ExternalId::Other),
        ],
    )
        .prop_map(|(username, name, email, inactive, external_id)| Variant {
            username,
            name,
            email,
            inactive,
            external_id,
        });
    prop::option::weighted(0.92, departs)
}

fn world() -> impl Strategy<Value = World> {
    let targets = prop_oneof![
        Just(vec![0]),
        Just(vec![1]),
        Just(vec![2]),
        Just(vec![0, 1]),
        Just(vec![0, 2]),
        Just(vec![0, 3]),
        Just(vec![0, 1, 2]),
    ];
    targets.prop_flat_map(|targets| {
        let n = targets.len();
        let people =
            prop::sample::subsequence((0..PEOPLE.len()).collect::<Vec<_>>(), 0..10).prop_flat_map(move |chosen| {
                let accounts = prop::collection::vec(prop::collection::vec(variant(), n), chosen.len());
                (Just(chosen), accounts).prop_map(|(chosen, accounts)| {
                    let people = chosen.into_iter().zip(accounts).map(|(i, accounts)| {
                        let (username, name, email) = PEOPLE[i];
                        Person {
                            username,
                            name,
                            email,
                            accounts,
                        }
                    });
                    people.collect::<Vec<_>>()
                })
            });
        (
            Just(targets),
            people,
            prop::collection::vec(
                (select(GROUPS), prop::collection::vec(prop::bool::weighted(0.8), n)),
                0..6,
            ),
            prop::collection::vec(
                (
                    0..100usize,
                    0..100usize,
                    prop::collection::vec(prop::bool::weighted(0.85), n),
                ),
                0..25,
            ),
            prop::collection::vec((0..100usize, 0..100usize, 0..100usize, 0..100usize, 0..100usize), 0..25),
        )
            .prop_map(|(targets, people, groups, memberships, grants)| World {
                targets,
                people,
                groups,
                memberships,
                grants,
            })
    })
}

/// The live state of every target of the world, as its provider would read it.
fn live(world: &World) -> BTreeMap<String, ResourceMap> {
    let mut out = BTreeMap::new();
    for (i, &t) in world.targets.iter().enumerate() {
        let (target, _, flagged) = TARGETS[t];
        let mut map = ResourceMap::new();
        let at = |id: ResourceId| Address::new(target, id);
        let mut usernames = Vec::new();
        for p in &world.people {
            let Some(Some(v)) = p.accounts.get(i) else { continue };
            let username = v.username.unwrap_or(p.username);
            if username.is_empty() {
                continue;
            }
            let mut attrs = UserAttrs::new(v.name.unwrap_or(p.name), v.email.unwrap_or(p.email));
            if flagged {
                attrs.active = Some(!v.inactive);
                attrs.external_id = match v.external_id {
                    ExternalId::Key => Some(p.username.to_owned()).filter(|k| !k.is_empty()),
                    ExternalId::Missing => None,
                    ExternalId::Other(x) => Some(x.to_owned()).filter(|k| !k.is_empty()),
                };
            }
            map.insert(
                at(ResourceId::User { name: username.into() }),
                Resource::User(Box::new(attrs)),
            );
            usernames.push(username);
        }
        let groups: Vec<&str> = world
            .groups
            .iter()
            .filter(|(_, on)| on.get(i).copied().unwrap_or(false))
            .map(|(g, _)| *g)
            .collect();
        for g in &groups {
            map.insert(at(ResourceId::Group { name: (*g).into() }), Resource::group());
        }
        if !groups.is_empty() && !usernames.is_empty() {
            for (g, u, on) in &world.memberships {
                if on.get(i).copied().unwrap_or(false) {
                    let id = ResourceId::Membership {
                        group: groups[g % groups.len()].into(),
                        user: usernames[u % usernames.len()].into(),
                    };
                    map.insert(at(id), Resource::membership());
                }
            }
        }
        if !flagged {
            for &(scope, project, repo, holder, permission) in &world.grants {
                let principal = match holder % 4 {
                    0 | 1 if !usernames.is_empty() => Principal::User(usernames[holder % usernames.len()].into()),
                    2 if !groups.is_empty() => Principal::Group(groups[holder % groups.len()].into()),
                    _ => Principal::User("ghost".into()),
                };
                let perms = PERMISSIONS[scope % 4];
                let permission = perms[permission % perms.len()].to_owned();
                let project = Scope::root().child("project", PROJECTS[project % PROJECTS.len()]);
                let grant = |scope: Scope| {
                    (
                        ResourceId::Grant { scope, principal },
                        Resource::Permission {
                            permission: permission.clone(),
                        },
                    )
                };
                let (id, resource) = match scope % 4 {
                    0 => grant(Scope::root()),
                    1 => grant(project),
                    2 => grant(project.child("repo", REPOS[repo % REPOS.len()])),
                    _ => (
                        ResourceId::Default { scope: project },
                        Resource::Default {
                            permission: Some(permission.clone()),
                        },
                    ),
                };
                map.insert(at(id), resource);
            }
        }
        out.insert(target.to_owned(), map);
    }
    out
}

/// How much of the generated worlds was imported, over all cases.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    accounts: usize,
    declared: usize,
    with_permissions: usize,
    with_notes: usize,
}

fn round_trip(world: &World, tally: &mut Tally) -> Result<(), TestCaseError> {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("manifests");
    std::fs::create_dir_all(&source).unwrap();
    let mut targets = String::from("targets:\n");
    for &t in &world.targets {
        let (name, body, _) = TARGETS[t];
        targets.push_str(&format!("  {name}:\n    {body}\n"));
    }
    std::fs::write(source.join("targets.yaml"), targets).unwrap();
    let desired = rollcall::engine::load(&source).unwrap();
    let live = live(world);
    let out = work.path().join("imported");
    let place = rollcall::import::Place {
        manifests: &source,
        out: &out,
    };
    let imported = rollcall::import::build(&desired.targets, &live, &place)
        .map_err(|e| TestCaseError::fail(format!("{e}\nlive: {live:#?}")))?;
    let again = rollcall::import::build(&desired.targets, &live, &place).unwrap();
    prop_assert_eq!(&imported.files, &again.files, "importing twice writes the same bytes");

    write(&out, &imported.files);
    let back = rollcall::engine::load(&out)
        .map_err(|e| TestCaseError::fail(format!("the import does not load: {e:?}\n{:#?}", imported.files)))?;
    let plan = rollcall::plan::build(&back, &live).unwrap();
    prop_assert!(
        plan.is_empty(),
        "the import plans changes:\n{}\nfiles: {:#?}",
        rollcall::render::render(&plan, rollcall::render::Format::Text),
        imported.files
    );
    tally.cases += 1;
    tally.accounts += live
        .values()
        .flat_map(|m| m.keys())
        .filter(|a| a.id.kind() == rollcall::model::Kind::Users)
        .count();
    tally.declared += imported.counts.accounts;
    tally.with_permissions += usize::from(imported.counts.permissions > 0);
    tally.with_notes += usize::from(!imported.notes.is_empty());
    Ok(())
}

fn write(out: &Path, files: &BTreeMap<String, String>) {
    for (name, text) in files {
        let path = out.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn imported_manifests_plan_to_no_changes_against_generated_live_states() {
    let mut runner = TestRunner::new(crate::config());
    let tally = std::cell::RefCell::new(Tally::default());
    let result = runner.run(&world(), |world| round_trip(&world, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = tally.into_inner();
    eprintln!("import round trips: {tally:?}");
    // Shrinking reruns cases, so the tally counts at least the configured number.
    assert!(tally.cases >= crate::config().cases as usize, "{tally:?}");
    // 39% to 45% in runs of 256 cases with the weights above: a third of the people are
    // drawn to be what a manifest cannot take, and people on several targets miss some.
    assert!(
        tally.declared * 10 >= tally.accounts * 3,
        "at least 30% of the generated accounts are imported as declared users: {tally:?}"
    );
    assert!(tally.with_permissions * 4 >= tally.cases, "{tally:?}");
    assert!(tally.with_notes * 4 >= tally.cases, "{tally:?}");
}

/// The generator's ordinary people, on every target with nothing odd about them, and
/// groups with members everywhere: everything is imported, nothing is left as a comment.
#[test]
fn an_organisation_with_nothing_odd_is_imported_whole() {
    let ordinary = 10;
    let world = World {
        targets: vec![0, 1, 2],
        people: PEOPLE[..ordinary]
            .iter()
            .map(|&(username, name, email)| Person {
                username,
                name,
                email,
                accounts: vec![
                    Some(Variant {
                        username: None,
                        name: None,
                        email: None,
                        inactive: false,
                        external_id: ExternalId::Key,
                    });
                    3
                ],
            })
            .collect(),
        groups: vec![("platform", vec![true; 3]), ("backend", vec![true; 3])],
        memberships: (0..ordinary).map(|u| (u, u, vec![true; 3])).collect(),
        grants: vec![(0, 0, 0, 2, 1), (1, 0, 0, 0, 2), (2, 1, 1, 1, 0), (3, 2, 0, 0, 1)],
    };
    let mut tally = Tally::default();
    round_trip(&world, &mut tally).unwrap();
    assert_eq!((tally.declared, tally.accounts), (30, 30), "{tally:?}");
    assert_eq!(tally.with_notes, 0);
    assert_eq!(tally.with_permissions, 1);
}
