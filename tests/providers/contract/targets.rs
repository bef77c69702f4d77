//! The targets the contract runs against, each fresh for its test (an emulator of its own,
//! or a tenant of its own on a shared server), and what each one's platform can do. A new
//! provider joins the contract with one function here and one line in `contract!`.

use rollcall::sandbox::host::Sandbox;
use rollcall::sandbox::state::DcState;

use super::org::{Grant, Holder, Org, Person, Scope, Scopes};
use super::TARGET;
use crate::common;

const TOKEN: &str = "contract-token-5d1e";

/// What the contract may expect of a platform. Everything here is a property of the
/// platform (or of the service's configuration, as a page size), not of rollcall.
pub struct Platform {
    /// Where grants are made, on a project and a repository the fresh target has; `None`
    /// where the platform has no grants (on SCIM, membership is the access).
    pub scopes: Option<Scopes>,
    /// A group is renamed in place; else it is replaced (created, members and grants
    /// moved, the old one deleted).
    pub renames_groups: bool,
    /// Accounts carry `active`: an offboarded person's account is deactivated as well.
    pub deactivates_offboarded: bool,
    /// An offboarded person is removed from the target (where being a member is all the
    /// account there is), their memberships going with them.
    pub offboard_removes: bool,
    /// A person may have another username on the target (`ids`); else a person is their
    /// email there.
    pub usernames: bool,
    /// A person's name and email are their own, not the target's to change (their account
    /// spans organizations): a manifest that words them otherwise changes nothing.
    pub people_fixed: bool,
    /// Deleting an account only deactivates it.
    pub delete_deactivates: bool,
    /// Deleting an account removes it from its groups, as the vendor describes its delete:
    /// the plan lists those removals, and apply sends none of them. (A deleted group's
    /// members and grants always go with it.)
    pub user_delete_takes_memberships: bool,
    /// The most changes one request carries (a document of aliased mutations); 1 where
    /// each change is a request of its own.
    pub batch: usize,
    /// The fewest requests that can read a target of this shape: bulk lists, paged as the
    /// service pages them, and nothing per object.
    pub read_cost: Box<dyn Fn(&ReadShape) -> usize + Send + Sync>,
    /// The requests an apply from empty needs: one per account and group, one per group's
    /// new members, and the grants in as few calls as the API takes them.
    pub write_cost: Box<dyn Fn(&WriteShape) -> usize + Send + Sync>,
}

/// What a read covered.
#[derive(Debug, Clone, Copy)]
pub struct ReadShape {
    /// Accounts and groups on the target.
    pub users: usize,
    pub groups: usize,
    /// Groups the manifest declares that exist on the target.
    pub declared_groups: usize,
    /// Projects and repositories the manifest names.
    pub projects: usize,
    pub repositories: usize,
    /// Named projects whose default (what every user holds there) the plan compares:
    /// every one when permissions are pruned (the contract declares no default).
    pub compared_defaults: usize,
}

/// What an apply from empty created.
#[derive(Debug, Clone)]
pub struct WriteShape {
    pub users: usize,
    pub groups: usize,
    /// Groups created with at least one member.
    pub groups_with_members: usize,
    pub grants: Vec<Grant>,
}

/// One target, started for one test.
pub struct Target {
    pub label: &'static str,
    pub platform: Platform,
    /// Who a fresh target already has and every manifest declares, with what they hold:
    /// on Data Center, the account rollcall works as.
    pub residents: Org,
    /// The manifest's `targets:` file, its token read from the file `token`.
    pub targets_yaml: String,
    pub token: String,
    /// The emulator, for its faults; `None` for a server run by someone else.
    pub emulator: Option<Box<dyn Sandbox>>,
    /// Where people are invited rather than created (a created person is a pending
    /// invitation, and nothing but their invitation can be changed until they accept):
    /// everyone invited accepts, as people do between one apply and the next plan.
    pub accept_invitations: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Target {
    pub async fn stop(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

/// Pages of `n` items, `per_page` a page; an empty list is still one request.
fn pages(n: usize, per_page: usize) -> usize {
    n.div_ceil(per_page).max(1)
}

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Bitbucket Data Center, emulated: the operator `admin` with SYS_ADMIN, and a project
/// with one repository to grant on.
pub async fn bitbucket_dc_emulator() -> Target {
    use rollcall::sandbox::bitbucket_dc::{serve, Shared};
    let state = DcState::parse(
        "operator: admin\n\
         users:\n  admin: { display_name: Admin, email: admin@example.com }\n\
         global:\n  users: { admin: SYS_ADMIN }\n\
         projects:\n  ALPHA:\n    name: Alpha\n    repos:\n      api: {}\n",
    )
    .unwrap();
    let running = serve(Shared::new(state, TOKEN.to_owned()), listener().await)
        .await
        .unwrap();
    let mut residents = Org {
        people: vec![Person::new("admin", "Admin", "admin@example.com")],
        ..Org::default()
    };
    residents.grant(Scope::Instance, Holder::User("admin".to_owned()), "SYS_ADMIN");
    Target {
        label: "Bitbucket Data Center emulator",
        platform: Platform {
            scopes: Some(Scopes {
                instance_key: "global",
                projects_key: "projects",
                project: "ALPHA",
                repository: Some("api"),
                users_at: &[Scope::Instance, Scope::Project, Scope::Repository],
                groups_at: &[Scope::Instance, Scope::Project, Scope::Repository],
            }),
            renames_groups: false,
            deactivates_offboarded: false,
            offboard_removes: false,
            usernames: true,
            people_fixed: false,
            delete_deactivates: false,
            // "Deletes the specified user, removing them from the system. This also
            // removes any permissions that may have been granted to the user."
            user_delete_takes_memberships: true,
            batch: 1,
            read_cost: Box::new(|s: &ReadShape| {
                // Users and groups in pages of 1,000; the global grants of users and of
                // groups; the members of each declared group (the API has no bulk
                // membership list); the groups of the account rollcall works as (for the
                // safety rules); per project and repository its users' and groups'
                // grants; the two flags of each default the plan compares.
                pages(s.users, 1000)
                    + pages(s.groups, 1000)
                    + 2
                    + s.declared_groups
                    + 1
                    + 2 * s.projects
                    + 2 * s.repositories
                    + 2 * s.compared_defaults
            }),
            write_cost: Box::new(|w: &WriteShape| {
                // Global and repository grants take every name of one permission in one
                // call; project grants take one name each.
                let mut batches: Vec<(Scope, bool, &str)> = w
                    .grants
                    .iter()
                    .filter(|g| g.scope != Scope::Project)
                    .map(|g| (g.scope, matches!(g.holder, Holder::User(_)), g.role.as_str()))
                    .collect();
                batches.sort();
                batches.dedup();
                let project = w.grants.iter().filter(|g| g.scope == Scope::Project).count();
                w.users + w.groups + w.groups_with_members + batches.len() + project
            }),
        },
        residents,
        targets_yaml: format!(
            "targets:\n  {TARGET}:\n    kind: bitbucket-datacenter\n    url: {}\n    auth:\n      token: ${{file:token}}\n      account: admin\n",
            running.base_url
        ),
        token: TOKEN.to_owned(),
        emulator: Some(Box::new(running)),
        accept_invitations: None,
    }
}

/// The SCIM platform's description, for a service serving `page` resources a request.
/// `rfc` creates a group with its first members in the POST (RFC 7643 §4.2: `members` is
/// readWrite); Atlassian's schema makes them read-only, so a PATCH adds them after.
fn scim(renames_groups: bool, delete_deactivates: bool, page: usize) -> Platform {
    let create_with_members = renames_groups;
    Platform {
        scopes: None,
        renames_groups,
        deactivates_offboarded: true,
        offboard_removes: false,
        usernames: true,
        people_fixed: false,
        delete_deactivates,
        // RFC 7643 §2.3.7 leaves referential integrity to the service: a group may still
        // list a deleted member.
        user_delete_takes_memberships: false,
        batch: 1,
        // `/Users` and `/Groups`, members inside the groups.
        read_cost: Box::new(move |s: &ReadShape| pages(s.users, page) + pages(s.groups, page)),
        // A POST per account and per group, that group's members in it; where the POST
        // cannot carry them, one PATCH per group with members.
        write_cost: Box::new(move |w: &WriteShape| {
            let fill = if create_with_members { 0 } else { w.groups_with_members };
            w.users + w.groups + fill
        }),
    }
}

fn scim_targets(url: &str, profile: &str) -> String {
    format!("targets:\n  {TARGET}:\n    kind: scim\n    profile: {profile}\n    url: {url}\n    auth:\n      token: ${{file:token}}\n")
}

/// The SCIM emulator behaving as `profile`: `rfc` (renames groups, deletes accounts, pages
/// of 200) or `atlassian` (replaces groups, deactivates accounts, pages of 100).
pub async fn scim_emulator(profile: &'static str) -> Target {
    use rollcall::sandbox::scim::{serve, ScimState, Shared};
    let state = ScimState::parse(&format!("kind: scim\nprofile: {profile}\ndirectory_id: dir-1\n")).unwrap();
    let running = serve(Shared::new(state, TOKEN.to_owned()), listener().await)
        .await
        .unwrap();
    let rfc = profile == "rfc";
    Target {
        label: if rfc {
            "SCIM emulator, rfc profile"
        } else {
            "SCIM emulator, atlassian profile"
        },
        platform: scim(rfc, !rfc, if rfc { 200 } else { 100 }),
        residents: Org::default(),
        targets_yaml: scim_targets(&running.api_url, profile),
        token: TOKEN.to_owned(),
        emulator: Some(Box::new(running)),
        accept_invitations: None,
    }
}

/// scim2-server, a third-party SCIM service (installed by `scripts/test`): a tenant of its
/// own. It renames groups, deletes accounts and serves up to 1,000 resources a page.
pub async fn scim2_server() -> Target {
    let tenant = tokio::task::spawn_blocking(common::scim2_server_tenant).await.unwrap();
    Target {
        label: "scim2-server",
        platform: scim(true, false, 1000),
        residents: Org::default(),
        targets_yaml: scim_targets(&tenant.base_url, "rfc"),
        token: tenant.token,
        emulator: None,
        accept_invitations: None,
    }
}

/// Buildkite, emulated: an organization with teams on, its administrator `admin` (the
/// token's user) and one pipeline to grant on. Its complexity windows are large: the
/// contract counts requests with room to spare (waiting for a five-minute window's reset
/// is `provider_buildkite`'s to test).
pub async fn buildkite_emulator() -> Target {
    use rollcall::sandbox::buildkite::{serve, BkState, Shared};
    use rollcall::sandbox::state::StateFile as _;
    let state = BkState::parse(
        "kind: buildkite\n\
         organization: { slug: contract, name: Contract }\n\
         operator: admin@example.com\n\
         members:\n  - { email: admin@example.com, name: Admin, role: admin }\n\
         pipelines: [deploy]\n\
         limits: { user_points: 1000000, org_points: 1000000 }\n",
    )
    .unwrap();
    let shared = Shared::new(state, TOKEN.to_owned());
    let running = serve(shared.clone(), listener().await).await.unwrap();
    let mut residents = Org {
        people: vec![Person::new("admin", "Admin", "admin@example.com")],
        ..Org::default()
    };
    residents.grant(Scope::Instance, Holder::User("admin".to_owned()), "admin");
    let accept = move || {
        shared.with_state(|s| {
            let invited: Vec<String> = s.invitations.iter().map(|i| i.email.clone()).collect();
            for email in invited {
                s.accept_invitation(&email, "Signed Up").unwrap();
            }
        });
    };
    Target {
        label: "Buildkite emulator",
        platform: Platform {
            // The organization's admin role is a person's; pipelines are granted to teams.
            scopes: Some(Scopes {
                instance_key: "organization",
                projects_key: "pipelines",
                project: "deploy",
                repository: None,
                users_at: &[Scope::Instance],
                groups_at: &[Scope::Project],
            }),
            // `teamUpdate` takes a new name.
            renames_groups: true,
            deactivates_offboarded: false,
            // Being a member is all the account there is: an offboarded person is
            // removed, as Buildkite's own SCIM deprovisioning does.
            offboard_removes: true,
            // People are found by email; their Buildkite account is theirs.
            usernames: false,
            people_fixed: true,
            delete_deactivates: false,
            // Removing a member from the organization takes their team memberships
            // along (`organizationMemberDelete` "removes the user from the org").
            user_delete_takes_memberships: true,
            // Up to 25 aliased mutations a document.
            batch: 25,
            read_cost: Box::new(|s: &ReadShape| {
                // Members 500 a page; the pending invitations (none once people accept),
                // one page; teams with their first 100 members and pipelines, as many a
                // page as the 50,000 points one query may request allow: (50,000 − 4) /
                // (7 + 2·100 + 2·100) = 122. No team here has more than 100 of either.
                pages(s.users, 500) + 1 + pages(s.groups, 122)
            }),
            write_cost: Box::new(|w: &WriteShape| {
                // The teams, 25 a document; then the invitations, 25 a document, each
                // carrying its person's teams (a person invited is not a member, so only
                // their invitation can put them in a team); then the pipelines' ids
                // looked up in one query, and the grants 25 a document.
                let grants = if w.grants.is_empty() {
                    0
                } else {
                    1 + w.grants.len().div_ceil(25)
                };
                w.groups.div_ceil(25) + w.users.div_ceil(25) + grants
            }),
        },
        residents,
        targets_yaml: format!(
            "targets:\n  {TARGET}:\n    kind: buildkite\n    url: {}\n    organization: contract\n    auth:\n      token: ${{file:token}}\n      account: admin\n",
            running.base_url
        ),
        token: TOKEN.to_owned(),
        emulator: Some(Box::new(running)),
        accept_invitations: Some(Box::new(accept)),
    }
}
