//! Effective access on every platform against expectations worked out by hand from the
//! vendors' rules, and the plan's effect against access before and after.

use std::collections::BTreeMap;

use super::*;
use crate::model::{Address, Principal, Resource, ResourceId, ResourceMap, UserAttrs};
use crate::plan::{Action, Change};
use crate::provider::{atlassian_org, bitbucket_cloud, bitbucket_dc, buildkite, scim};

/// Builds a resource map on one target from short statements.
struct Map {
    target: &'static str,
    map: ResourceMap,
}

impl Map {
    fn on(target: &'static str) -> Map {
        Map {
            target,
            map: ResourceMap::new(),
        }
    }

    fn put(mut self, id: ResourceId, r: Resource) -> Map {
        self.map.insert(Address::new(self.target, id), r);
        self
    }

    fn user(self, name: &str, active: Option<bool>) -> Map {
        let mut attrs = UserAttrs::new(name, format!("{name}@example.com"));
        attrs.active = active;
        self.put(ResourceId::User { name: name.into() }, Resource::User(Box::new(attrs)))
    }

    fn member(self, group: &str, user: &str) -> Map {
        self.put(ResourceId::Group { name: group.into() }, Resource::group())
            .put(
                ResourceId::Membership {
                    group: group.into(),
                    user: user.into(),
                },
                Resource::membership(),
            )
    }

    fn grant(self, path: &[(&str, &str)], holder: Principal, native: &str) -> Map {
        self.put(
            ResourceId::Grant {
                scope: scope(path),
                principal: holder,
            },
            Resource::Permission {
                permission: native.to_owned(),
            },
        )
    }

    fn default(self, path: &[(&str, &str)], native: &str) -> Map {
        self.put(
            ResourceId::Default { scope: scope(path) },
            Resource::Default {
                permission: Some(native.to_owned()),
            },
        )
    }
}

fn scope(path: &[(&str, &str)]) -> Scope {
    path.iter().fold(Scope::root(), |s, (k, n)| s.child(k, n))
}

fn user(n: &str) -> Principal {
    Principal::User(n.into())
}

fn group(n: &str) -> Principal {
    Principal::Group(n.into())
}

const API: &[(&str, &str)] = &[("project", "API")];
const PAYMENTS: &[(&str, &str)] = &[("project", "API"), ("repo", "payments")];
const PLAT: &[(&str, &str)] = &[("project", "PLAT")];

fn target(name: &'static str, platform: Platform, from: Option<&'static str>) -> TargetRef<'static> {
    TargetRef {
        name,
        platform,
        principals_from: from,
        usernames: None,
        invited: None,
        read: None,
        unread_members: None,
    }
}

fn state(name: &'static str, platform: Platform, from: Option<&'static str>, maps: &[&Map]) -> State {
    let maps: BTreeMap<String, ResourceMap> = maps.iter().map(|m| (m.target.to_owned(), m.map.clone())).collect();
    target(name, platform, from).state(&maps)
}

/// `person sign line` per effect.
fn signed(effects: &[effect::Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| format!("{} {} {}", e.person, e.sign(), crate::render::effect::line(e)))
        .collect()
}

/// `person resource level [reason via]…` per entry, for comparing with a hand-written list.
fn table(state: &State, filter: &Filter) -> Vec<String> {
    entries(state, filter)
        .into_iter()
        .map(|e| {
            let why: Vec<String> = e.reasons.iter().map(Reason::text).collect();
            format!("{} {} {} [{}]", e.person, e.resource, e.level, why.join("; "))
        })
        .collect()
}

fn all() -> Filter {
    Filter::default()
}

/// Data Center: the highest of global, project, the project's all-users default and the
/// repository grant, direct or through groups; a global ADMIN administers everything; a
/// licence alone is no access to a project.
#[test]
fn data_center_takes_the_highest_of_every_grant_and_the_default() {
    let bb = Map::on("bb")
        .user("ann", None)
        .user("bo", None)
        .user("cy", None)
        .member("dev", "ann")
        .member("dev", "bo")
        .member("ops", "ann")
        .grant(&[], group("dev"), "LICENSED_USER")
        .grant(&[], user("cy"), "ADMIN")
        .grant(API, group("dev"), "PROJECT_READ")
        .grant(API, group("ops"), "PROJECT_WRITE")
        .grant(PAYMENTS, user("bo"), "REPO_ADMIN")
        .grant(PAYMENTS, group("dev"), "REPO_READ")
        .default(PLAT, "PROJECT_READ");
    let s = state("bb", bitbucket_dc::PLATFORM, None, &[&bb]);
    assert_eq!(
        table(&s, &all()),
        [
            // ann: write on API through ops beats read through dev, and holds on payments,
            // above dev's REPO_READ there; PLAT's default reaches everyone.
            "ann global read [LICENSED_USER via dev]",
            "ann API write [PROJECT_WRITE via ops]",
            "ann API/payments write [PROJECT_WRITE on project API via ops]",
            "ann PLAT read [PROJECT_READ for all users]",
            "bo global read [LICENSED_USER via dev]",
            "bo API read [PROJECT_READ via dev]",
            "bo API/payments admin [REPO_ADMIN]",
            "bo PLAT read [PROJECT_READ for all users]",
            // cy: no licence through a group, but ADMIN administers every scope.
            "cy global admin [ADMIN]",
            "cy API admin [ADMIN on global permissions]",
            "cy API/payments admin [ADMIN on global permissions]",
            "cy PLAT admin [ADMIN on global permissions]",
        ]
    );
    // Who can write to API/payments, as an auditor asks.
    let on = Filter {
        on: vec!["bb:API/payments".to_owned()],
        ..Filter::default()
    };
    assert_eq!(
        table(&s, &on),
        [
            "ann API/payments write [PROJECT_WRITE on project API via ops]",
            "bo API/payments admin [REPO_ADMIN]",
            "cy API/payments admin [ADMIN on global permissions]",
        ]
    );
    // A repository nothing is granted on directly is still answered through its project.
    let inner = Filter {
        on: vec!["bb:API/ledger".to_owned()],
        who: vec!["BO@example.com".to_owned()],
    };
    assert_eq!(
        table(&s, &inner),
        ["bo API/ledger read [PROJECT_READ on project API via dev]"]
    );
}

/// Two grants at the same highest level are both reasons; losing one changes nothing.
#[test]
fn overlapping_grants_at_the_same_level_are_all_reasons() {
    let bb = Map::on("bb")
        .user("ann", None)
        .member("dev", "ann")
        .grant(&[], group("dev"), "LICENSED_USER")
        .grant(API, group("dev"), "PROJECT_WRITE")
        .grant(API, user("ann"), "PROJECT_WRITE");
    let s = state("bb", bitbucket_dc::PLATFORM, None, &[&bb]);
    assert_eq!(
        table(&s, &all()),
        [
            "ann global read [LICENSED_USER via dev]",
            "ann API write [PROJECT_WRITE; PROJECT_WRITE via dev]"
        ]
    );
}

/// Bitbucket Cloud: groups and their members live in the organization directory; a
/// project grant holds on its repositories; `create-repo` counts as write.
#[test]
fn cloud_reads_members_from_the_directory_and_inherits_project_grants() {
    let org = Map::on("org")
        .user("ann", None)
        .member("devs", "ann")
        .member("leads", "ann");
    let cloud = Map::on("cloud")
        .grant(API, group("devs"), "create-repo")
        .grant(PAYMENTS, group("leads"), "read")
        .grant(PAYMENTS, user("zed"), "admin");
    let s = state("cloud", bitbucket_cloud::PLATFORM, Some("org"), &[&org, &cloud]);
    assert_eq!(
        table(&s, &all()),
        [
            "ann API write [create-repo via devs]",
            "ann API/payments write [create-repo on project API via devs]",
            "zed API/payments admin [admin]",
        ]
    );
    // The directory itself: access there is group membership.
    let d = state("org", atlassian_org::PLATFORM, None, &[&org]);
    assert_eq!(
        table(&d, &all()),
        ["ann devs member [member]", "ann leads member [member]"]
    );
}

/// Buildkite: pipeline access comes from teams only, is not inherited, and an
/// organization administrator can do everything on every pipeline.
#[test]
fn buildkite_gives_pipelines_through_teams_and_everything_to_admins() {
    let bk = Map::on("bk")
        .user("ann", None)
        .user("root", None)
        .member("backend", "ann")
        .grant(&[("pipeline", "deploy")], group("backend"), "BUILD_AND_READ")
        .grant(&[("pipeline", "docs")], group("writers"), "READ_ONLY")
        .grant(&[], user("root"), "ADMIN");
    let s = state("bk", buildkite::PLATFORM, None, &[&bk]);
    assert_eq!(
        table(&s, &all()),
        [
            "ann deploy write [BUILD_AND_READ via backend]",
            "root organization admin [ADMIN]",
            "root deploy admin [ADMIN on organization role]",
            "root docs admin [ADMIN on organization role]",
        ]
    );
}

/// SCIM: an active account and its groups; a deactivated person has nothing.
#[test]
fn scim_access_is_the_account_and_its_groups_and_offboarded_people_have_none() {
    let dir = Map::on("dir")
        .user("ann", Some(true))
        .user("old", Some(false))
        .member("eng", "ann")
        .member("eng", "old");
    let s = state("dir", scim::RFC_PLATFORM, None, &[&dir]);
    assert_eq!(
        table(&s, &all()),
        ["ann account active [active account]", "ann eng member [member]"]
    );
}

fn change(target: &str, id: ResourceId, action: Action, before: Option<Resource>, after: Option<Resource>) -> Change {
    Change {
        address: Address::new(target, id),
        action,
        before,
        after,
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

fn permission(native: &str) -> Resource {
    Resource::Permission {
        permission: native.to_owned(),
    }
}

/// The plan's effect: a new group grant reaches its members, a project line stands for
/// its repositories, and a change hidden by a higher grant is flagged as having none.
#[test]
fn the_effect_lists_what_changes_for_people_and_flags_changes_that_change_nothing() {
    let bb = Map::on("bb")
        .user("ann", None)
        .user("bo", None)
        .member("dev", "ann")
        .grant(PAYMENTS, user("bo"), "REPO_WRITE")
        .grant(API, user("bo"), "PROJECT_ADMIN");
    let live: BTreeMap<String, ResourceMap> = [("bb".to_owned(), bb.map.clone())].into();
    let changes = [
        change(
            "bb",
            ResourceId::Grant {
                scope: scope(API),
                principal: group("dev"),
            },
            Action::Create,
            None,
            Some(permission("PROJECT_WRITE")),
        ),
        // bo is an admin of the project: lowering the repository grant changes nothing.
        change(
            "bb",
            ResourceId::Grant {
                scope: scope(PAYMENTS),
                principal: user("bo"),
            },
            Action::Update,
            Some(permission("REPO_WRITE")),
            Some(permission("REPO_READ")),
        ),
    ];
    let targets = [target("bb", bitbucket_dc::PLATFORM, None)];
    let (effects, notes) = effect::of_plan(&targets, &live, &changes, &Default::default());
    assert_eq!(
        signed(&effects),
        ["ann + bb: write on project API (PROJECT_WRITE via dev)"],
        "the repository payments, inside API, gains the same through the same grant: one line"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].address.as_ref(), Some(&changes[1].address));
    assert!(notes[0].text.starts_with("no effect"), "{}", notes[0].text);
}

/// Someone only invited holds nothing yet, whatever teams and role the invitation carries.
#[test]
fn an_invitation_not_accepted_gives_no_access() {
    let bk = Map::on("bk")
        .user("ann", None)
        .user("grace", None)
        .member("backend", "ann")
        .member("backend", "grace")
        .grant(&[("pipeline", "deploy")], group("backend"), "BUILD_AND_READ")
        .grant(&[], user("grace"), "ADMIN");
    let maps: BTreeMap<String, ResourceMap> = [("bk".to_owned(), bk.map.clone())].into();
    let invited = std::collections::BTreeSet::from(["grace".to_owned()]);
    let s = TargetRef {
        invited: Some(&invited),
        ..target("bk", buildkite::PLATFORM, None)
    }
    .state(&maps);
    assert_eq!(table(&s, &all()), ["ann deploy write [BUILD_AND_READ via backend]"]);
}

/// The removals a deleted group takes along are the deletion, not changes that miss
/// their mark: with the group's other removals made first, each alone would seem to
/// change nothing. On one target, and where the group lives on the directory target.
#[test]
fn removals_a_deleted_group_takes_along_are_not_flagged() {
    let delete =
        |target: &str, id: ResourceId, before: Resource| change(target, id, Action::Delete, Some(before), None);
    let membership = |g: &str, u: &str| ResourceId::Membership {
        group: g.into(),
        user: u.into(),
    };
    let grant_on_api = |g: &str| ResourceId::Grant {
        scope: scope(API),
        principal: group(g),
    };

    // Data Center: the group, its two memberships and its project grant go.
    let bb = Map::on("bb")
        .user("ann", None)
        .user("bo", None)
        .member("dev", "ann")
        .member("dev", "bo")
        .grant(API, group("dev"), "PROJECT_WRITE");
    let live: BTreeMap<String, ResourceMap> = [("bb".to_owned(), bb.map.clone())].into();
    let changes = [
        delete("bb", ResourceId::Group { name: "dev".into() }, Resource::group()),
        delete("bb", membership("dev", "ann"), Resource::membership()),
        delete("bb", membership("dev", "bo"), Resource::membership()),
        delete("bb", grant_on_api("dev"), permission("PROJECT_WRITE")),
    ];
    let targets = [target("bb", bitbucket_dc::PLATFORM, None)];
    let (effects, notes) = effect::of_plan(&targets, &live, &changes, &Default::default());
    assert_eq!(
        signed(&effects),
        [
            "ann - bb: write on project API (was PROJECT_WRITE via dev)",
            "bo - bb: write on project API (was PROJECT_WRITE via dev)"
        ]
    );
    assert!(notes.is_empty(), "{notes:?}");

    // Cloud: the group is deleted on the directory, the grant on Cloud.
    let org = Map::on("org").user("ann", None).member("dev", "ann");
    let cloud = Map::on("cloud").grant(API, group("dev"), "write");
    let live: BTreeMap<String, ResourceMap> = [
        ("org".to_owned(), org.map.clone()),
        ("cloud".to_owned(), cloud.map.clone()),
    ]
    .into();
    let changes = [
        delete("org", ResourceId::Group { name: "dev".into() }, Resource::group()),
        delete("org", membership("dev", "ann"), Resource::membership()),
        delete("cloud", grant_on_api("dev"), permission("write")),
    ];
    let targets = [
        target("org", atlassian_org::PLATFORM, None),
        target("cloud", bitbucket_cloud::PLATFORM, Some("org")),
    ];
    let (effects, notes) = effect::of_plan(&targets, &live, &changes, &Default::default());
    assert!(!effects.is_empty());
    assert!(notes.is_empty(), "{notes:?}");
}

/// The plan reads only what it may change; its effect says what it could not count, only
/// where that bears on one of its lines: a group holding a grant there whose members
/// were not read, a default there that was not read.
#[test]
fn the_effect_says_what_the_read_left_out_where_it_matters() {
    let bb = Map::on("bb")
        .user("ann", None)
        .grant(&[], user("ann"), "LICENSED_USER")
        .grant(PLAT, group("everyone-ish"), "PROJECT_READ")
        .grant(API, group("api-readers"), "PROJECT_READ");
    let live: BTreeMap<String, ResourceMap> = [("bb".to_owned(), bb.map.clone())].into();
    let read = crate::desired::ReadScope {
        scopes: [scope(API), scope(PLAT)].into(),
        ..Default::default()
    };
    let grant_to_ann = |path| {
        change(
            "bb",
            ResourceId::Grant {
                scope: scope(path),
                principal: user("ann"),
            },
            Action::Create,
            None,
            Some(permission("PROJECT_WRITE")),
        )
    };
    // The read says which groups' members it left out.
    let unread = std::collections::BTreeSet::from(["Everyone-ish".to_owned(), "api-readers".to_owned()]);
    let targets = [TargetRef {
        read: Some(&read),
        unread_members: Some(&unread),
        ..target("bb", bitbucket_dc::PLATFORM, None)
    }];
    let (_, notes) = effect::of_plan(&targets, &live, &[grant_to_ann(PLAT)], &Default::default());
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        ["the effect on people counts only what the plan read: not the members of group `everyone-ish`, nor the all-users permission of project PLAT, which the manifests neither declare nor prune (`rollcall access --live` reads everything)"]
    );
    // Once the members and the default are read, there is nothing to say.
    let whole = crate::desired::ReadScope {
        defaults: [scope(PLAT)].into(),
        ..read.clone()
    };
    let unread = std::collections::BTreeSet::from(["api-readers".to_owned()]);
    let targets = [TargetRef {
        read: Some(&whole),
        unread_members: Some(&unread),
        ..targets[0]
    }];
    let (_, notes) = effect::of_plan(&targets, &live, &[grant_to_ann(PLAT)], &Default::default());
    assert!(notes.is_empty(), "{notes:?}");

    // Cloud takes its groups from the directory, which reads only the declared ones: a
    // group it did not list at all is unread too.
    let org = Map::on("org").user("ann", None).member("devs", "ann");
    let cloud = Map::on("cloud")
        .grant(API, group("ops"), "write")
        .grant(API, group("devs"), "read");
    let live: BTreeMap<String, ResourceMap> = [
        ("org".to_owned(), org.map.clone()),
        ("cloud".to_owned(), cloud.map.clone()),
    ]
    .into();
    let org_read = crate::desired::ReadScope {
        member_groups: ["devs".to_owned()].into(),
        ..Default::default()
    };
    let cloud_read = crate::desired::ReadScope {
        scopes: [scope(API)].into(),
        ..Default::default()
    };
    let targets = [
        TargetRef {
            read: Some(&org_read),
            ..target("org", atlassian_org::PLATFORM, None)
        },
        TargetRef {
            read: Some(&cloud_read),
            ..target("cloud", bitbucket_cloud::PLATFORM, Some("org"))
        },
    ];
    let grant = change(
        "cloud",
        ResourceId::Grant {
            scope: scope(API),
            principal: user("ann"),
        },
        Action::Create,
        None,
        Some(permission("admin")),
    );
    let (effects, notes) = effect::of_plan(&targets, &live, &[grant], &Default::default());
    assert_eq!(signed(&effects), ["ann ~ cloud: read -> admin on project API (admin)"]);
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        ["the effect on people counts only what the plan read: not the members of group `ops`, which the manifests neither declare nor prune (`rollcall access --live` reads everything)"]
    );
}

/// How `--on PATH` resolves on `target`, as `path inferred near` or `error: hint`.
fn named(s: &State, path: &str) -> String {
    match resource_named(&[s], None, &s.target, path) {
        Ok(n) => format!("{} {} {}", n.path, n.inferred, n.near.unwrap_or_default()),
        Err(e) => format!("error: {}", e.hint),
    }
}

/// Where the platform has grants, every name but the last must be known; the last may be
/// unknown at any depth (a pipeline no team has, a project nothing is granted on) and is
/// answered through what encloses it, a near miss with the known name it nearly is. The
/// root's key names the root only where the platform has one.
#[test]
fn on_paths_need_every_name_but_the_last_known() {
    let bb = Map::on("bb")
        .user("ann", None)
        .grant(&[], user("ann"), "ADMIN")
        .grant(PAYMENTS, user("ann"), "REPO_READ");
    let bb = state("bb", bitbucket_dc::PLATFORM, None, &[&bb]);
    assert_eq!(named(&bb, "GLOBAL"), "global false ");
    assert_eq!(named(&bb, "api/PAYMENTS"), "API/payments false ");
    assert_eq!(named(&bb, "api/payment"), "API/payment true API/payments");
    assert_eq!(named(&bb, "api/ledger"), "API/ledger true ");
    assert_eq!(named(&bb, "NEW"), "NEW true ");
    assert_eq!(named(&bb, "APO/ledger"), "error: did you mean `bb:API/ledger`?");
    assert_eq!(named(&bb, "API/payments/x"), "error: write `--on bb:API/payments`");
    assert_eq!(named(&bb, "API//x"), "error: write `--on bb:API/x`");
    // A project nothing is granted on still has the global administrators.
    let on = Filter {
        on: vec!["bb:NEW".to_owned()],
        ..Filter::default()
    };
    assert_eq!(table(&bb, &on), ["ann NEW admin [ADMIN on global permissions]"]);

    let bk = Map::on("bk")
        .user("root", None)
        .grant(&[], user("root"), "ADMIN")
        .grant(&[("pipeline", "deploy")], group("backend"), "READ_ONLY");
    let bk = state("bk", buildkite::PLATFORM, None, &[&bk]);
    assert_eq!(named(&bk, "docs-site"), "docs-site true ");
    assert_eq!(named(&bk, "Organization"), "organization false ");
    // `global` is no key of Buildkite's or Bitbucket Cloud's: a pipeline or project name.
    assert_eq!(named(&bk, "global"), "global true ");
    assert_eq!(
        compute::scope_named(buildkite::PLATFORM, "global"),
        Some(scope(&[("pipeline", "global")]))
    );
    assert_eq!(
        compute::scope_named(bitbucket_cloud::PLATFORM, "global"),
        Some(scope(&[("project", "global")]))
    );
    assert_eq!(
        compute::scope_named(bitbucket_dc::PLATFORM, "global"),
        Some(Scope::root())
    );
    let on = Filter {
        on: vec!["bk:global".to_owned()],
        ..Filter::default()
    };
    assert_eq!(table(&bk, &on), ["root global admin [ADMIN on organization role]"]);
}

/// Where access is membership, a group's name is one whole name, `/` and all, matched in
/// any case as lower-cased text; an unknown one is an error.
#[test]
fn on_a_group_is_its_whole_name_where_access_is_membership() {
    let dir = Map::on("dir")
        .user("ann", Some(true))
        .user("bo", Some(true))
        .member("eng", "ann")
        .member("eng/backend", "bo")
        .member("ops/", "bo")
        .member("Ärzte", "ann");
    let s = state("dir", scim::RFC_PLATFORM, None, &[&dir]);
    assert_eq!(named(&s, "ops/"), "ops/ false ");
    assert_eq!(named(&s, "ärzte"), "Ärzte false ");
    assert_eq!(named(&s, "eng/backend"), "eng/backend false ");
    assert_eq!(named(&s, "eng/backen"), "error: did you mean `dir:eng/backend`?");
    let on = |path: &str| Filter {
        on: vec![format!("dir:{path}")],
        ..Filter::default()
    };
    assert_eq!(table(&s, &on("eng")), ["ann eng member [member]"]);
    assert_eq!(table(&s, &on("ops/")), ["bo ops/ member [member]"]);
    assert_eq!(table(&s, &on("ärzte")), ["ann Ärzte member [member]"]);
}
