//! Held changes and notes against hand-made plans: a platform whose people and groups
//! another target makes, with and without that target, the principals a platform fixes,
//! grants that change nothing, and group identifiers derived from names.

use std::collections::BTreeMap;

use super::*;
use crate::desired::{GroupId, Policy, TargetConfig};
use crate::model::Scope;
use crate::platform::{GroupIds, KindRules, Platform, Spec};

/// A platform whose users, groups and memberships are made elsewhere, naming groups by
/// a slug of its own, where a project's grant holds on its repositories.
static WORKSPACE: Spec = Spec {
    kind: "workspace-test",
    users: KindRules::EXTERNAL,
    groups: KindRules::EXTERNAL,
    memberships: KindRules::EXTERNAL,
    group_ids: Some(GroupIds {
        noun: "slug",
        derive: |name| name.to_lowercase().replace(' ', "-"),
        valid: |_| true,
        rule: "",
    }),
    ..crate::provider::bitbucket_dc::SPEC
};

fn grant(target: &str, scope: Scope, principal: Principal, permission: &str) -> Change {
    Change {
        address: Address::new(target, ResourceId::Grant { scope, principal }),
        action: Action::Create,
        before: None,
        after: Some(Resource::Permission {
            permission: permission.into(),
        }),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

fn create(target: &str, id: ResourceId) -> Change {
    Change {
        address: Address::new(target, id),
        action: Action::Create,
        before: None,
        after: Some(Resource::group()),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

fn project() -> Scope {
    Scope::root().child("project", "P")
}

fn user(name: &str) -> Principal {
    Principal::User(name.into())
}

fn group(name: &str) -> Principal {
    Principal::Group(name.into())
}

/// `ws` on the test platform, taking its principals from `dir` (Data Center) if `from`.
fn desired(from: bool) -> Desired {
    let mut ws = TargetConfig::sandbox("ws", Platform::new(&WORKSPACE));
    ws.principals_from = from.then(|| "dir".to_owned());
    for (name, email) in [("ann", "ann@x.example"), ("bo", "bo@x.example"), ("cy", "cy@x.example")] {
        ws.scope.people.insert(name.to_owned(), email.to_owned());
    }
    let dir = TargetConfig::sandbox("dir", crate::provider::bitbucket_dc::PLATFORM);
    Desired {
        targets: BTreeMap::from([("ws".to_owned(), ws), ("dir".to_owned(), dir)]),
        resources: BTreeMap::new(),
        offboarded: BTreeMap::new(),
        policy: Policy::default(),
        renames: BTreeMap::new(),
        manifest_digest: String::new(),
        manifest_dir: ".".into(),
        protect_undeclared: Default::default(),
        sourcing: None,
        sourced: None,
        provenance: Default::default(),
        followed: Default::default(),
        usernames: Default::default(),
    }
}

fn live(entries: &[(&str, Principal)]) -> BTreeMap<String, ResourceMap> {
    let mut out: BTreeMap<String, ResourceMap> = BTreeMap::new();
    for (target, p) in entries {
        let value = match p {
            Principal::User(n) => Resource::User(Box::new(crate::model::UserAttrs::new(n.as_str(), ""))),
            Principal::Group(_) => Resource::group(),
        };
        out.entry((*target).to_owned())
            .or_default()
            .insert(Address::new(target, p.id()), value);
    }
    out
}

fn held_addresses(held: &[Held]) -> Vec<String> {
    held.iter().map(|h| h.change.address.to_string()).collect()
}

#[test]
fn a_grant_to_someone_the_target_lacks_waits_for_the_directory_or_is_held() {
    let d = desired(true);
    let live = live(&[("ws", user("cy")), ("dir", group("ops")), ("dir", user("bo"))]);
    let membership = ResourceId::Membership {
        group: "ops".into(),
        user: "ann".into(),
    };
    let changes = vec![
        create("dir", membership),
        create("dir", ResourceId::Group { name: "new".into() }),
        grant("ws", project(), user("ann"), "write"), // the directory gives ann access
        grant("ws", project(), user("bo"), "write"),  // in the directory, given nothing
        grant("ws", project(), user("cy"), "write"),  // in the workspace already
        grant("ws", project(), group("ops"), "read"), // on the directory
        grant("ws", project(), group("new"), "read"), // created there
        grant("ws", project(), group("ghost"), "read"),
    ];
    let (kept, held) = hold(changes, &d, &live);
    assert_eq!(
        held_addresses(&held),
        ["ws.project[\"P\"].user[\"bo\"]", "ws.project[\"P\"].group[\"ghost\"]"]
    );
    assert_eq!(kept.len(), 6);
    assert!(
        held[0].why.contains("bo@x.example") && held[0].why.contains("without access"),
        "{}",
        held[0].why
    );
    assert!(held[1].hint.contains("`dir`"), "{}", held[1].hint);
}

#[test]
fn a_grant_waiting_for_a_held_directory_change_is_held_too() {
    let mut d = desired(true);
    // `dir` is a platform whose people are made elsewhere too: ann is not there.
    if let Some(dir) = d.targets.get_mut("dir") {
        dir.platform = Platform::new(&WORKSPACE);
        dir.scope.people.insert("ann".to_owned(), "ann@x.example".to_owned());
    }
    let membership = ResourceId::Membership {
        group: "ops".into(),
        user: "ann".into(),
    };
    let changes = vec![create("dir", membership), grant("ws", project(), user("ann"), "write")];
    let (kept, held) = hold(changes, &d, &BTreeMap::new());
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(held.len(), 2);
}

#[test]
fn without_a_directory_only_people_are_held_since_groups_cannot_be_listed() {
    let d = desired(false);
    let mut revoke = grant("ws", project(), user("bo"), "write");
    revoke.action = Action::Delete;
    let changes = vec![
        grant("ws", project(), user("ann"), "write"),
        grant("ws", project(), group("ops"), "read"),
        revoke,
    ];
    let (kept, held) = hold(changes, &d, &BTreeMap::new());
    assert_eq!(held_addresses(&held), ["ws.project[\"P\"].user[\"ann\"]"]);
    assert_eq!(kept.len(), 2, "a group's grant goes ahead; a revoke is never held");
}

#[test]
fn a_change_naming_a_principal_the_platform_fixes_becomes_a_note() {
    let findings = BTreeMap::from([(
        "ws".to_owned(),
        Findings {
            remarks: vec!["used 3 requests".to_owned()],
            fixed: vec![(user("Owner"), "the workspace owner".to_owned())],
            ..Findings::default()
        },
    )]);
    let changes = vec![
        grant("ws", project(), user("owner"), "admin"),
        grant("ws", project(), group("owner"), "admin"),
    ];
    let (kept, notes) = fixed(changes, &findings);
    assert_eq!(kept.len(), 1, "a group of the same name is not the owner");
    assert_eq!(notes.len(), 1);
    assert!(notes[0].text.contains("the workspace owner"), "{}", notes[0].text);
    assert_eq!(remarks(&findings)[0].text, "used 3 requests");
}

#[test]
fn a_repository_grant_within_the_projects_own_is_noted_as_changing_nothing() {
    let mut d = desired(false);
    let repo = project().child("repo", "api");
    let declared = [
        (project(), group("dev"), "PROJECT_WRITE"),
        (Scope::root(), group("ops"), "ADMIN"),
    ];
    for (scope, p, permission) in declared {
        d.resources.insert(
            Address::new("ws", ResourceId::Grant { scope, principal: p }),
            Resource::Permission {
                permission: permission.into(),
            },
        );
    }
    let changes = vec![
        grant("ws", repo.clone(), group("dev"), "REPO_READ"),
        grant("ws", repo.clone(), group("dev"), "REPO_WRITE"),
        grant("ws", repo.clone(), group("dev"), "REPO_ADMIN"),
        grant("ws", project(), group("ops"), "PROJECT_READ"),
    ];
    let notes = shadowed(&changes, &d);
    let noted: Vec<String> = notes
        .iter()
        .filter_map(|n| n.address.as_ref().map(|a| a.to_string()))
        .collect();
    assert_eq!(
        noted.len(),
        2,
        "read and write within write; admin is more; the root is not compared: {noted:?}"
    );
    assert!(
        notes[0].text.contains("PROJECT_WRITE") && notes[0].text.contains("project P"),
        "{}",
        notes[0].text
    );
}

#[test]
fn a_derived_group_identifier_is_noted_once_and_a_declared_one_not_at_all() {
    let mut d = desired(false);
    let ids = &mut d.targets.get_mut("ws").map(|t| &mut t.scope.group_ids);
    if let Some(ids) = ids {
        ids.insert(
            "Release Managers".into(),
            GroupId {
                id: "release-managers".into(),
                declared: false,
            },
        );
        ids.insert(
            "ops".into(),
            GroupId {
                id: "operations".into(),
                declared: true,
            },
        );
    }
    let changes = vec![
        grant("ws", project(), group("Release Managers"), "read"),
        grant("ws", project().child("repo", "api"), group("Release Managers"), "write"),
        grant("ws", project(), group("ops"), "read"),
    ];
    let notes = group_ids(&changes, &d);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].text.contains("`Release Managers` as `release-managers`") && !notes[0].text.contains("operations"),
        "{}",
        notes[0].text
    );
}

#[test]
fn an_attribute_the_platform_sets_only_at_creation_is_noted_not_updated() {
    static DIRECTORY: Spec = Spec {
        kind: "directory-test",
        groups: KindRules {
            attributes_on_create_only: true,
            ..KindRules::PLAIN
        },
        ..crate::provider::bitbucket_dc::SPEC
    };
    let mut d = desired(false);
    if let Some(ws) = d.targets.get_mut("ws") {
        ws.platform = Platform::new(&DIRECTORY);
    }
    let described = |text: &str| Resource::Group {
        attributes: [("description".to_owned(), text.to_owned())].into(),
    };
    let mut update = create("ws", ResourceId::Group { name: "ops".into() });
    update.action = Action::Update;
    update.before = Some(described("Old"));
    update.after = Some(described("New"));
    let new = create("ws", ResourceId::Group { name: "new".into() });
    let (kept, notes) = create_only(vec![update, new], &d);
    assert_eq!(kept.len(), 1, "a create sends its attributes");
    assert!(
        notes[0]
            .text
            .contains("`description` is \"Old\" there, the manifest says \"New\""),
        "{}",
        notes[0].text
    );
}

/// While a person is only invited, what they would be given waits for them to accept;
/// revoking the invitation itself does not.
#[test]
fn changes_for_an_invited_person_are_held_and_the_invitation_is_listed() {
    let findings = BTreeMap::from([(
        "bk".to_owned(),
        Findings {
            pending: vec![(user("Nina"), "invited on 2026-11-30".to_owned())],
            ..Findings::default()
        },
    )]);
    let invitee = Change {
        address: Address::new("bk", ResourceId::User { name: "nina".into() }),
        action: Action::Delete,
        before: Some(Resource::User(Box::new(crate::model::UserAttrs::new(
            "Nina",
            "nina@x.test",
        )))),
        after: None,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    };
    let changes = vec![
        grant("bk", project(), user("nina"), "admin"),
        grant("bk", project(), user("omar"), "admin"),
        invitee,
    ];
    let (kept, held, notes) = pending(changes, &findings);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].why.contains("is invited, not a member yet") && held[0].why.contains("2026-11-30"),
        "{}",
        held[0].why
    );
    assert_eq!(
        kept.len(),
        2,
        "someone else's grant and the invitation's revocation go ahead"
    );
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].text.starts_with("invited, not a member yet"),
        "{}",
        notes[0].text
    );
}

/// A kind the target leaves to its SSO is said, not planned; other kinds go ahead.
#[test]
fn a_kind_left_to_sso_becomes_a_note() {
    let findings = BTreeMap::from([(
        "bk".to_owned(),
        Findings {
            left_alone: vec![crate::provider::LeftAlone {
                kind: Kind::Permissions,
                root_only: true,
                why: "the organization's SSO sets roles at each login".to_owned(),
            }],
            ..Findings::default()
        },
    )]);
    let root = crate::model::Scope::root();
    let changes = vec![
        grant("bk", root, user("nina"), "ADMIN"),
        grant("bk", project(), group("ops"), "admin"),
    ];
    let (kept, notes) = left_alone(changes, &findings);
    assert_eq!(kept.len(), 1, "a grant below the root is not a role");
    assert!(notes[0].text.contains("SSO sets roles"), "{}", notes[0].text);
}
