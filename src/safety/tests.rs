//! Each safety rule at its boundary: exactly at a limit passes, one more is refused.

use super::*;

use crate::desired::Limits;
use crate::model::UserAttrs;

const T: &str = "bb";
static NO_SHRINK: BTreeSet<String> = BTreeSet::new();

fn user(n: &str) -> (Address, Resource) {
    let attrs = UserAttrs::new(n, format!("{n}@example.com"));
    (
        Address::new(T, ResourceId::User { name: n.into() }),
        Resource::User(Box::new(attrs)),
    )
}
fn group(n: &str) -> (Address, Resource) {
    (Address::new(T, ResourceId::Group { name: n.into() }), Resource::group())
}
fn member(g: &str, u: &str) -> (Address, Resource) {
    let id = ResourceId::Membership {
        group: g.into(),
        user: u.into(),
    };
    (Address::new(T, id), Resource::membership())
}
fn global(p: Principal, perm: &str) -> (Address, Resource) {
    (
        Address::new(
            T,
            ResourceId::Grant {
                scope: crate::model::Scope::root(),
                principal: p,
            },
        ),
        Resource::Permission {
            permission: perm.into(),
        },
    )
}
fn create((address, r): (Address, Resource)) -> Change {
    Change {
        address,
        action: Action::Create,
        before: None,
        after: Some(r),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}
fn delete((address, r): (Address, Resource)) -> Change {
    Change {
        address,
        action: Action::Delete,
        before: Some(r),
        after: None,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}
fn update((address, r): (Address, Resource), to: Resource) -> Change {
    Change {
        address,
        action: Action::Update,
        before: Some(r),
        after: Some(to),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

struct World {
    policy: Policy,
    platforms: BTreeMap<String, Platform>,
    accounts: BTreeMap<String, String>,
    invited: BTreeMap<String, BTreeSet<String>>,
    live: BTreeMap<String, ResourceMap>,
    allow: Option<usize>,
}

impl World {
    fn new(objects: Vec<(Address, Resource)>) -> Self {
        World {
            policy: Policy {
                min_admins: 1,
                ..Policy::default()
            },
            platforms: BTreeMap::from([(T.to_owned(), crate::provider::bitbucket_dc::PLATFORM)]),
            accounts: BTreeMap::new(),
            invited: BTreeMap::new(),
            live: BTreeMap::from([(T.to_owned(), objects.into_iter().collect())]),
            allow: None,
        }
    }
    fn check(&self, changes: &[Change]) -> Vec<Rule> {
        let existing = count_existing(&self.live);
        let cx = Context {
            policy: &self.policy,
            platforms: &self.platforms,
            accounts: &self.accounts,
            invited: &self.invited,
            live: &self.live,
            existing: &existing,
            allow_deletes: self.allow,
            sources: None,
            allow_shrink: &NO_SHRINK,
        };
        check(changes, &cx).into_iter().map(|r| r.rule).collect()
    }
}

fn users(n: usize) -> Vec<(Address, Resource)> {
    (0..n).map(|i| user(&format!("u{i:02}"))).collect()
}

#[test]
fn max_deletes_allows_exactly_the_limit_and_refuses_one_more() {
    let mut w = World::new(users(100));
    w.policy.limits = Limits {
        max_deletes: Some(3),
        max_delete_percent: 100,
        min_existing: 10,
    };
    let del = |n: usize| -> Vec<Change> { users(n).into_iter().map(delete).collect() };
    assert!(w.check(&del(3)).is_empty());
    assert_eq!(w.check(&del(4)), vec![Rule::MaxDeletes]);
    w.allow = Some(4);
    assert!(w.check(&del(4)).is_empty(), "--allow-deletes 4 admits 4");
    w.allow = Some(3);
    assert_eq!(
        w.check(&del(4)),
        vec![Rule::MaxDeletes],
        "--allow-deletes 3 does not admit 4"
    );
}

#[test]
fn percentage_allows_exactly_the_limit_and_refuses_one_more() {
    let w = World::new(users(20)); // default limits: 30% once 10 exist
    let del = |n: usize| -> Vec<Change> { users(n).into_iter().map(delete).collect() };
    assert!(w.check(&del(6)).is_empty(), "6 of 20 is 30%");
    assert_eq!(w.check(&del(7)), vec![Rule::MaxDeletePercent]);
}

#[test]
fn percentage_applies_only_from_min_existing() {
    let w = World::new(users(9));
    let all: Vec<Change> = users(9).into_iter().map(delete).collect();
    assert!(w.check(&all).is_empty(), "9 existing is below min_existing 10");
    let w = World::new(users(10));
    let four: Vec<Change> = users(4).into_iter().map(delete).collect();
    assert_eq!(w.check(&four), vec![Rule::MaxDeletePercent], "4 of 10 is 40%");
    let three: Vec<Change> = users(3).into_iter().map(delete).collect();
    assert!(w.check(&three).is_empty(), "3 of 10 is 30%");
}

#[test]
fn refusal_names_the_counts() {
    let w = World::new(users(10));
    let four: Vec<Change> = users(4).into_iter().map(delete).collect();
    let existing = count_existing(&w.live);
    let cx = Context {
        policy: &w.policy,
        platforms: &w.platforms,
        accounts: &w.accounts,
        invited: &w.invited,
        live: &w.live,
        existing: &existing,
        allow_deletes: None,
        sources: None,
        allow_shrink: &NO_SHRINK,
    };
    let refusals = check(&four, &cx);
    assert_eq!(
        refusals[0].message,
        "the plan deletes 4 of 10 users on `bb` (40%); policy.limits.max_delete_percent is 30"
    );
}

#[test]
fn protected_principals_and_what_they_hold_are_never_touched() {
    let mut w = World::new(vec![user("svc"), group("ops"), member("ops", "svc")]);
    w.policy.protect = BTreeSet::from(["SVC".to_owned()]);
    assert_eq!(w.check(&[delete(member("ops", "svc"))]), vec![Rule::Protected]);
    assert_eq!(w.check(&[delete(user("svc"))]), vec![Rule::Protected]);
    assert_eq!(
        w.check(&[delete(group("ops"))]),
        vec![Rule::Protected],
        "deleting the group would take the protected member's membership along"
    );
    assert!(w.check(&[delete(group("ops")), delete(member("ops", "bo"))]).len() == 1);
}

#[test]
fn deleting_a_group_counts_as_removing_its_members_admin_rights() {
    let mut w = admin_world(); // ann is admin only through `admins`
    w.policy.min_admins = 3;
    assert_eq!(w.check(&[delete(group("admins"))]), vec![Rule::MinAdmins]);
}

fn admin_world() -> World {
    let mut w = World::new(vec![
        user("ann"),
        user("bo"),
        user("svc"),
        group("admins"),
        member("admins", "ann"),
        global(Principal::Group("admins".into()), "ADMIN"),
        global(Principal::User("bo".into()), "SYS_ADMIN"),
        global(Principal::User("svc".into()), "ADMIN"),
    ]);
    w.accounts.insert(T.into(), "svc".into());
    w
}

#[test]
fn min_admins_allows_exactly_the_minimum_and_refuses_one_fewer() {
    let mut w = admin_world(); // ann (via admins), bo, svc: 3 admins
    w.policy.min_admins = 2;
    let one = [delete(member("admins", "ann"))];
    assert!(w.check(&one).is_empty(), "2 admins left is the minimum");
    let two = [
        delete(member("admins", "ann")),
        delete(global(Principal::User("bo".into()), "SYS_ADMIN")),
    ];
    assert_eq!(w.check(&two), vec![Rule::MinAdmins]);
}

/// Someone only invited (a Buildkite invitation carrying the admin role) is no
/// administrator yet: removing the last real one is refused however many are invited.
#[test]
fn an_invited_admin_is_not_counted_as_one() {
    let mut w = admin_world(); // ann (via admins), bo, svc: 3 admins
    w.policy.min_admins = 2;
    w.invited.insert(T.to_owned(), BTreeSet::from(["svc".to_owned()]));
    let one = [delete(member("admins", "ann"))];
    assert_eq!(
        w.check(&one),
        vec![Rule::MinAdmins],
        "bo alone is left, svc only invited"
    );
}

#[test]
fn removing_an_admin_group_counts_its_members() {
    let mut w = admin_world();
    w.policy.min_admins = 3;
    let drop_group = [delete(global(Principal::Group("admins".into()), "ADMIN"))];
    assert_eq!(w.check(&drop_group), vec![Rule::MinAdmins]);
}

#[test]
fn already_below_the_minimum_is_not_made_worse_by_unrelated_changes() {
    let mut w = admin_world();
    w.policy.min_admins = 5;
    assert!(w.check(&[delete(member("admins", "bo"))]).is_empty());
}

#[test]
fn own_account_is_never_deleted_or_demoted() {
    let w = admin_world();
    assert_eq!(w.check(&[delete(user("svc"))]), vec![Rule::OwnAccount]);
    let demote = update(
        global(Principal::User("svc".into()), "ADMIN"),
        Resource::Permission {
            permission: "LICENSED_USER".into(),
        },
    );
    assert_eq!(w.check(&[demote]), vec![Rule::OwnAccount]);
    let raise = update(
        global(Principal::User("svc".into()), "ADMIN"),
        Resource::Permission {
            permission: "SYS_ADMIN".into(),
        },
    );
    assert!(w.check(&[raise]).is_empty());
}

#[test]
fn own_account_keeps_a_level_it_also_holds_through_a_group() {
    let mut w = admin_world();
    w.live.get_mut(T).unwrap().extend([member("admins", "svc")]);
    let direct = [delete(global(Principal::User("svc".into()), "ADMIN"))];
    assert!(w.check(&direct).is_empty(), "still ADMIN through `admins`");
    let both = [
        delete(global(Principal::User("SVC".into()), "ADMIN")),
        delete(member("admins", "SVC")),
    ];
    assert_eq!(
        w.check(&both),
        vec![Rule::OwnAccount],
        "names match without regard to case"
    );
}

#[test]
fn a_kind_the_platform_keeps_read_only_refuses_every_change_to_it() {
    use crate::platform::{KindRules, Spec};
    static READ_ONLY_GROUPS: Spec = Spec {
        profile: Some("read-only-groups"),
        groups: KindRules {
            read_only: true,
            ..KindRules::PLAIN
        },
        memberships: KindRules {
            read_only: true,
            ..KindRules::PLAIN
        },
        ..crate::provider::bitbucket_dc::SPEC
    };
    let mut w = World::new(vec![group("synced"), member("synced", "ann")]);
    w.platforms.insert(T.to_owned(), Platform::new(&READ_ONLY_GROUPS));
    let changes = [
        create(group("new")),
        delete(member("synced", "ann")),
        create(user("bo")),
    ];
    assert_eq!(
        w.check(&changes),
        vec![Rule::ReadOnly, Rule::ReadOnly],
        "users stay writable"
    );
    let existing = count_existing(&w.live);
    let cx = Context {
        policy: &w.policy,
        platforms: &w.platforms,
        accounts: &w.accounts,
        invited: &w.invited,
        live: &w.live,
        existing: &existing,
        allow_deletes: None,
        sources: None,
        allow_shrink: &NO_SHRINK,
    };
    let messages: Vec<String> = check(&changes, &cx).into_iter().map(|r| r.message).collect();
    assert_eq!(
        messages,
        [
            "creating bb.group[\"new\"]: groups on a bitbucket-datacenter/read-only-groups target are read-only",
            "deleting bb.group[\"synced\"].member[\"ann\"]: memberships on a bitbucket-datacenter/read-only-groups target are read-only",
        ]
    );
}

/// A group `backend` following `okta:eng` with `live` members on `bb`, the source group
/// giving `now` people and `before` at the last apply.
fn shrink(live: usize, leaving: usize, now: usize, before: Option<usize>, allow: &[&str]) -> Vec<Refusal> {
    use crate::plan::sources::{GroupSize, SourcesSummary};
    let mut state = ResourceMap::new();
    state.extend([group("backend")]);
    for i in 0..live {
        state.extend([user(&format!("u{i}")), member("backend", &format!("u{i}"))]);
    }
    let changes: Vec<Change> = (0..leaving)
        .map(|i| delete(member("backend", &format!("u{i}"))))
        .collect();
    let sources = SourcesSummary {
        groups: BTreeMap::from([("okta:eng".to_owned(), GroupSize { now, before })]),
        followed: BTreeMap::from([("backend".to_owned(), vec!["okta:eng".to_owned()])]),
        ..SourcesSummary::default()
    };
    let live_states = BTreeMap::from([(T.to_owned(), state)]);
    let allow: BTreeSet<String> = allow.iter().map(|a| (*a).to_owned()).collect();
    let existing = count_existing(&live_states);
    let policy = Policy {
        limits: Limits {
            max_delete_percent: 100,
            ..Limits::default()
        },
        ..Policy::default()
    };
    let cx = Context {
        policy: &policy,
        platforms: &BTreeMap::new(),
        accounts: &BTreeMap::new(),
        invited: &BTreeMap::new(),
        live: &live_states,
        existing: &existing,
        allow_deletes: None,
        sources: Some(&sources),
        allow_shrink: &allow,
    };
    check(&changes, &cx)
        .into_iter()
        .filter(|r| r.rule == Rule::SourceShrink)
        .collect()
}

#[test]
fn a_followed_group_may_shrink_up_to_the_limit_and_not_past_it() {
    // 20% of 10 live members is the limit (default policy): 2 pass, 3 are refused.
    assert!(shrink(10, 2, 8, None, &[]).is_empty());
    let refused = shrink(10, 3, 7, None, &[]);
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].message,
        "group `backend` on bb would lose 3 of its 10 members (30%), past policy.sources.max_shrink_percent (20%); it follows okta:eng"
    );
    // Below min_members (5) the share does not apply.
    assert!(shrink(4, 3, 1, None, &[]).is_empty());
    // Let through by name, the source group's or the manifest group's.
    assert!(shrink(10, 3, 7, None, &["okta:eng"]).is_empty());
    assert!(shrink(10, 3, 7, None, &["BACKEND"]).is_empty());
    assert!(shrink(10, 3, 7, None, &["*"]).is_empty());
}

#[test]
fn an_empty_source_group_is_refused_at_any_size() {
    let refused = shrink(2, 2, 0, None, &[]);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].message.starts_with("okta:eng came back empty"),
        "{}",
        refused[0].message
    );
    // Against the record of the last apply, with nothing live to lose.
    let refused = shrink(0, 0, 0, Some(3), &[]);
    assert_eq!(
        refused[0].message,
        "source group okta:eng came back empty; it gave 3 people at the last apply"
    );
    // Empty then and now: nothing to lose.
    assert!(shrink(0, 0, 0, Some(0), &[]).is_empty());
}

#[test]
fn a_source_group_is_held_to_its_size_at_the_last_apply() {
    assert!(shrink(0, 0, 8, Some(10), &[]).is_empty(), "2 of 10 is 20%");
    let refused = shrink(0, 0, 7, Some(10), &[]);
    assert_eq!(
        refused[0].message,
        "source group okta:eng gives 7 people, 10 at the last apply: 30% fewer, past policy.sources.max_shrink_percent (20%)"
    );
    assert!(refused[0]
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("--allow-source-shrink okta:eng")));
    // Growing is never refused.
    assert!(shrink(0, 0, 30, Some(10), &[]).is_empty());
}
