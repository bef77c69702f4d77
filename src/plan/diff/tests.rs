//! The diff against hand-made desired and live states: creates, updates, pruning and
//! what stays unmanaged, offboarding, renames in place and by replacement.
use std::collections::BTreeMap;

use super::*;
use crate::desired::Policy;
use crate::model::{Kind, Scope, UserAttrs};

fn user(name: &str) -> (Address, Resource) {
    let attrs = UserAttrs::new(name.to_uppercase(), format!("{name}@example.com"));
    (
        Address::new("bb", ResourceId::User { name: name.into() }),
        Resource::User(Box::new(attrs)),
    )
}
fn group(name: &str) -> (Address, Resource) {
    (
        Address::new("bb", ResourceId::Group { name: name.into() }),
        Resource::group(),
    )
}
fn member(group: &str, user: &str) -> (Address, Resource) {
    let id = ResourceId::Membership {
        group: group.into(),
        user: user.into(),
    };
    (Address::new("bb", id), Resource::membership())
}
fn grant(principal: Principal, permission: &str) -> (Address, Resource) {
    let id = ResourceId::Grant {
        scope: Scope::root().child("project", "P"),
        principal,
    };
    (
        Address::new("bb", id),
        Resource::Permission {
            permission: permission.into(),
        },
    )
}
fn default(permission: Option<&str>) -> (Address, Resource) {
    let id = ResourceId::Default {
        scope: Scope::root().child("project", "P"),
    };
    (
        Address::new("bb", id),
        Resource::Default {
            permission: permission.map(str::to_owned),
        },
    )
}

fn desired(resources: Vec<(Address, Resource)>, prune: &[Kind], offboarded: &[&str]) -> Desired {
    let d = Desired {
        targets: BTreeMap::new(),
        resources: resources.into_iter().collect(),
        offboarded: BTreeMap::from([("bb".to_owned(), offboarded.iter().map(|s| (*s).to_owned()).collect())]),
        policy: Policy {
            prune: prune.iter().copied().collect(),
            ..Policy::default()
        },
        renames: BTreeMap::new(),
        manifest_digest: String::new(),
        manifest_dir: std::path::PathBuf::new(),
        protect_undeclared: BTreeSet::new(),
        sourcing: None,
        sourced: None,
        provenance: Default::default(),
        followed: Default::default(),
        usernames: Default::default(),
    };
    on(crate::provider::bitbucket_dc::PLATFORM, d)
}

fn show(changes: &[Change]) -> Vec<String> {
    let mut out: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    out.sort();
    out
}

#[test]
fn without_pruning_nothing_undeclared_is_deleted() {
    let d = desired(vec![user("ann"), group("devs"), member("devs", "ann")], &[], &[]);
    let live: ResourceMap = vec![
        user("ann"),
        user("eve"),
        group("devs"),
        group("old"),
        member("devs", "eve"),
    ]
    .into_iter()
    .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert_eq!(show(&changes), ["+ bb.group[\"devs\"].member[\"ann\"]"]);
    assert_eq!(unmanaged.len(), 3);
}

#[test]
fn pruning_is_narrow_and_deleted_principals_take_their_access_along() {
    let d = desired(
        vec![user("ann"), group("devs")],
        &[Kind::Groups, Kind::Memberships, Kind::Permissions],
        &[],
    );
    let live: ResourceMap = vec![
        user("ann"),
        user("eve"),
        group("devs"),
        group("old"),
        member("devs", "eve"),                                 // declared group: pruned
        member("old", "ann"),                                  // group deleted: goes with it
        grant(Principal::Group("old".into()), "PROJECT_READ"), // same
        grant(Principal::User("eve".into()), "PROJECT_WRITE"), // undeclared holder: kept
        grant(Principal::User("ann".into()), "PROJECT_ADMIN"), // declared holder: pruned
    ]
    .into_iter()
    .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        [
            "- bb.group[\"devs\"].member[\"eve\"]",
            "- bb.group[\"old\"]",
            "- bb.group[\"old\"].member[\"ann\"]",
            "- bb.project[\"P\"].group[\"old\"]",
            "- bb.project[\"P\"].user[\"ann\"]",
        ]
    );
    let kept: Vec<String> = unmanaged.iter().map(|u| u.address.to_string()).collect();
    assert_eq!(kept, ["bb.user[\"eve\"]", "bb.project[\"P\"].user[\"eve\"]"]);
}

#[test]
fn offboarded_people_lose_access_but_keep_the_account() {
    let d = desired(vec![group("devs")], &[], &["judy"]);
    let live: ResourceMap = vec![
        user("judy"),
        group("devs"),
        member("devs", "judy"),
        grant(Principal::User("judy".into()), "PROJECT_READ"),
    ]
    .into_iter()
    .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        [
            "- bb.group[\"devs\"].member[\"judy\"]",
            "- bb.project[\"P\"].user[\"judy\"]"
        ]
    );
    assert!(changes
        .iter()
        .all(|c| c.reason.as_deref() == Some("user `judy` is inactive")));
    assert!(unmanaged.is_empty());
}

/// Where membership of the target is the account (a Buildkite organization's), an
/// offboarded person leaves it, taking their memberships along, whatever the pruning.
#[test]
fn offboarded_people_are_removed_where_the_platform_cannot_deactivate_them() {
    let d = on(
        crate::provider::buildkite::PLATFORM,
        desired(vec![group("devs")], &[], &["judy"]),
    );
    let live: ResourceMap = vec![user("judy"), group("devs"), member("devs", "judy")]
        .into_iter()
        .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        ["- bb.group[\"devs\"].member[\"judy\"]", "- bb.user[\"judy\"]"]
    );
    let reasons: Vec<&str> = changes.iter().filter_map(|c| c.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            "user `judy` is inactive: buildkite has no deactivation, so they are removed",
            "user `judy` is removed"
        ]
    );
    assert!(unmanaged.is_empty());
}

#[test]
fn project_default_none_needs_no_change_when_there_is_none() {
    let d = desired(vec![default(None)], &[], &[]);
    assert!(diff_target("bb", &d, &ResourceMap::new()).0.is_empty());
    let live: ResourceMap = vec![default(Some("PROJECT_READ"))].into_iter().collect();
    let (changes, _) = diff_target("bb", &d, &live);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, Action::Update);
}

#[test]
fn live_names_match_declared_ones_without_regard_to_case() {
    let d = desired(
        vec![user("dave"), group("devs"), member("devs", "dave")],
        &[Kind::Users],
        &[],
    );
    let mut live_dave = user("Dave");
    live_dave.1 = user("dave").1;
    let live: ResourceMap = vec![live_dave, group("DEVS"), member("DEVS", "Dave")]
        .into_iter()
        .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert!(changes.is_empty(), "{changes:#?}");
    assert!(unmanaged.is_empty());
}

fn on(platform: Platform, mut d: Desired) -> Desired {
    let config = crate::desired::TargetConfig::sandbox("bb", platform);
    d.targets.insert("bb".into(), config);
    d
}

fn scim_user(name: &str, active: bool) -> (Address, Resource) {
    let (address, mut r) = user(name);
    if let Resource::User(u) = &mut r {
        u.active = Some(active);
        u.external_id = Some(name.into());
    }
    (address, r)
}

fn renamed(mut d: Desired, old: &str, new: &str) -> Desired {
    d.renames.entry("bb".into()).or_default().insert(old.into(), new.into());
    d
}

#[test]
fn a_rename_is_made_in_place_where_the_platform_renames_groups() {
    let d = desired(
        vec![group("guild"), member("guild", "ann"), user("ann")],
        &[Kind::Memberships],
        &[],
    );
    let d = on(crate::provider::scim::RFC_PLATFORM, renamed(d, "team", "guild"));
    let live: ResourceMap = vec![
        user("ann"),
        user("bob"),
        group("team"),
        member("team", "ann"),
        member("team", "bob"),
    ]
    .into_iter()
    .collect();
    let (changes, _) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        ["- bb.group[\"guild\"].member[\"bob\"]", "~ bb.group[\"guild\"]"],
        "the members come along; only the difference changes"
    );
    let rename = changes.iter().find(|c| c.renames().is_some()).unwrap();
    assert_eq!(rename.renamed_from.as_deref(), Some("team"));
    // Once renamed, nothing is left to do.
    let after: ResourceMap = vec![user("ann"), group("guild"), member("guild", "ann")]
        .into_iter()
        .collect();
    assert!(diff_target("bb", &d, &after).0.is_empty());
}

#[test]
fn a_rename_the_platform_cannot_make_creates_moves_then_deletes() {
    let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
    let d = renamed(d, "team", "guild");
    let live: ResourceMap = vec![user("ann"), group("team"), member("team", "ann")]
        .into_iter()
        .collect();
    let (_, unmanaged) = diff_target("bb", &d, &live);
    assert!(unmanaged.is_empty(), "the old group is not left behind, pruning or not");
    let ordered: Vec<String> = crate::plan::build(&d, &BTreeMap::from([("bb".to_owned(), live.clone())]))
        .map(|p| p.changes)
        .unwrap_or_default()
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    assert_eq!(
        ordered,
        [
            "+ bb.group[\"guild\"]",
            "+ bb.group[\"guild\"].member[\"ann\"]",
            "- bb.group[\"team\"].member[\"ann\"]",
            "- bb.group[\"team\"]",
        ]
    );
}

#[test]
fn a_replaced_group_keeps_undeclared_members_unless_memberships_are_pruned() {
    let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
    let d = renamed(d, "team", "guild");
    let live: ResourceMap = vec![
        user("ann"),
        user("ivan"),
        group("team"),
        member("team", "ann"),
        member("team", "ivan"),
    ]
    .into_iter()
    .collect();
    let (changes, _) = diff_target("bb", &d, &live);
    let moved = changes
        .iter()
        .find(|c| c.address.to_string() == "bb.group[\"guild\"].member[\"ivan\"]")
        .expect("ivan moves too");
    assert_eq!(moved.action, Action::Create);
    let mut pruning = renamed(
        desired(
            vec![group("guild"), member("guild", "ann"), user("ann")],
            &[Kind::Memberships],
            &[],
        ),
        "team",
        "guild",
    );
    pruning.policy.prune.insert(Kind::Memberships);
    let (changes, _) = diff_target("bb", &pruning, &live);
    assert!(!show(&changes).contains(&"+ bb.group[\"guild\"].member[\"ivan\"]".to_owned()));
}

#[test]
fn a_rename_onto_an_existing_group_moves_the_members_before_removing_the_old() {
    let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
    let d = on(crate::provider::scim::RFC_PLATFORM, renamed(d, "team", "guild"));
    let live: ResourceMap = vec![user("ann"), group("team"), group("guild"), member("team", "ann")]
        .into_iter()
        .collect();
    let ordered: Vec<String> = crate::plan::build(&d, &BTreeMap::from([("bb".to_owned(), live.clone())]))
        .map(|p| p.changes)
        .unwrap_or_default()
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    assert_eq!(
        ordered,
        [
            "+ bb.group[\"guild\"].member[\"ann\"]",
            "- bb.group[\"team\"].member[\"ann\"]",
            "- bb.group[\"team\"]",
        ]
    );
}

#[test]
fn a_rename_onto_an_existing_group_moves_only_what_that_group_lacks() {
    let d = desired(vec![group("guild"), member("guild", "ann"), user("ann")], &[], &[]);
    let d = renamed(d, "team", "guild");
    let live: ResourceMap = vec![
        user("ann"),
        user("ivan"),
        user("eve"),
        group("team"),
        group("guild"),
        member("team", "ann"),
        member("team", "ivan"),
        member("team", "eve"),
        member("guild", "ivan"),
        grant(Principal::Group("team".into()), "PROJECT_ADMIN"),
        grant(Principal::Group("guild".into()), "PROJECT_READ"),
    ]
    .into_iter()
    .collect();
    let (changes, _) = diff_target("bb", &d, &live);
    let added: Vec<String> = show(&changes).into_iter().filter(|c| c.starts_with('+')).collect();
    assert_eq!(
        added,
        [
            "+ bb.group[\"guild\"].member[\"ann\"]",
            "+ bb.group[\"guild\"].member[\"eve\"]",
        ],
        "ivan is a member already, and guild's own grant is not overwritten with team's"
    );
}

#[test]
fn a_deactivated_account_is_not_moved_where_deactivated_means_gone() {
    let d = desired(vec![group("guild")], &[], &[]);
    let live: ResourceMap = vec![
        scim_user("ann", true),
        scim_user("old", false),
        group("team"),
        member("team", "ann"),
        member("team", "old"),
    ]
    .into_iter()
    .collect();
    let moved = |platform| {
        let d = on(platform, renamed(d.clone(), "team", "guild"));
        let (changes, _) = diff_target("bb", &d, &live);
        show(&changes)
            .into_iter()
            .filter(|c| c.starts_with('+'))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        moved(crate::provider::scim::ATLASSIAN_PLATFORM),
        ["+ bb.group[\"guild\"]", "+ bb.group[\"guild\"].member[\"ann\"]"],
        "the service would refuse to add `old`"
    );
    let mut everyone = moved(crate::provider::bitbucket_dc::PLATFORM);
    everyone.retain(|c| c.contains("member"));
    assert_eq!(
        everyone.len(),
        2,
        "elsewhere an inactive member moves too: {everyone:?}"
    );
}

#[test]
fn inactive_people_are_deactivated_where_users_have_active_and_never_created() {
    let d = desired(vec![scim_user("judy", false), group("devs")], &[], &["judy"]);
    let d = on(crate::provider::scim::RFC_PLATFORM, d);
    let live: ResourceMap = vec![scim_user("judy", true), group("devs"), member("devs", "judy")]
        .into_iter()
        .collect();
    let (changes, _) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        ["- bb.group[\"devs\"].member[\"judy\"]", "~ bb.user[\"judy\"]"]
    );
    assert!(changes.iter().all(Change::removes));
    let (changes, _) = diff_target("bb", &d, &ResourceMap::new());
    assert_eq!(
        show(&changes),
        ["+ bb.group[\"devs\"]"],
        "no account is created to be inactive"
    );
}

#[test]
fn pruning_a_user_deactivates_where_delete_means_deactivate() {
    let d = desired(vec![group("devs")], &[Kind::Users], &[]);
    let d = on(crate::provider::scim::ATLASSIAN_PLATFORM, d);
    let live: ResourceMap = vec![
        scim_user("eve", true),
        scim_user("old", false),
        group("devs"),
        member("devs", "eve"),
    ]
    .into_iter()
    .collect();
    let (changes, unmanaged) = diff_target("bb", &d, &live);
    assert_eq!(
        show(&changes),
        ["- bb.group[\"devs\"].member[\"eve\"]", "~ bb.user[\"eve\"]"]
    );
    let eve = changes.iter().find(|c| c.action == Action::Update).unwrap();
    assert!(
        eve.removes()
            && eve
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("deactivates users instead of deleting"))
    );
    assert!(
        unmanaged.is_empty(),
        "an already inactive account needs nothing: {unmanaged:#?}"
    );
}

/// A group attribute the manifest does not set is not managed: a live description
/// nobody declared plans nothing, one declared differently plans an update.
#[test]
fn an_attribute_the_manifest_does_not_set_is_left_alone() {
    let described = |text: &str| Resource::Group {
        attributes: [("description".to_owned(), text.to_owned())].into_iter().collect(),
    };
    assert!(as_managed(&described("Engineers"), &Resource::group()));
    assert!(as_managed(&described("Engineers"), &described("Engineers")));
    assert!(!as_managed(&described("Engineers"), &described("Platform")));
    assert!(!as_managed(&Resource::group(), &described("Platform")));
    assert!(left_as(Some(&Resource::group()), Some(&described("Engineers"))));
    assert!(!left_as(None, Some(&Resource::group())));
}
