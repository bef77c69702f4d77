//! Manifests and live states for the in-memory apply property (`in_memory`), drawn from
//! byte tapes proptest generates: a manifest for a Bitbucket Data Center target and a
//! SCIM target, and a live state per target, over overlapping names.

use std::collections::{BTreeMap, BTreeSet};

use rollcall::model::{Address, Principal, Resource, ResourceId, ResourceMap, Scope, UserAttrs};

use super::{document, Layout, Node, Style};

pub(super) const BB: &str = "bb";
pub(super) const DIR: &str = "dir";

// ---------------------------------------------------------------------------------------
// Drawing from a tape
// ---------------------------------------------------------------------------------------

/// Random choices read from a byte string proptest generates. A zero byte is always "no"
/// or the first option, so shrinking the tape towards zeros shrinks the case towards an
/// empty manifest and an empty target.
pub(super) struct Tape<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Tape<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Tape { bytes, at: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u32) -> bool {
        (u32::from(self.byte()) * 100) >> 8 >= 100 - percent
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------

/// The people a manifest may declare, by rollcall name.
const PEOPLE: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank"];
/// The groups a manifest may declare.
const GROUPS: &[&str] = &["platform", "backend", "mobile", "ops"];
/// Names a protect list draws from: declared or live, people or groups.
const PROTECT: &[&str] = &[
    "mallory",
    "stash-users",
    "contractors",
    "admin",
    "bob",
    "platform",
    "Alice",
];

fn plain(s: &str) -> Node {
    Node::Scalar(s.to_owned(), Style::Plain)
}

/// A boolean or a number, written as is (plain style would quote it into a string).
fn raw(s: &str) -> Node {
    Node::Scalar(s.to_owned(), Style::Raw)
}

fn map(entries: Vec<(String, Node)>, flow: bool) -> Node {
    Node::Map(entries, flow)
}

fn seq(items: &[&str], flow: bool) -> Node {
    Node::Seq(items.iter().map(|s| plain(s)).collect(), flow)
}

fn entry(k: &str, v: Node) -> (String, Node) {
    (k.to_owned(), v)
}

/// A display name as the manifest gives it.
fn display_name(person: &str) -> String {
    format!("{} Example", capitalised(person))
}

/// A manifest: its sections, each a top-level key and value, whether to write them into
/// one file or one file each, and the mistake the generator made on purpose, if any (then
/// it must not resolve; otherwise it must).
#[derive(Debug, Clone)]
pub(super) struct Manifest {
    sections: Vec<(String, Node)>,
    split: bool,
    pub(super) mistake: Option<&'static str>,
}

pub(super) fn manifest(tape: &mut Tape<'_>) -> Manifest {
    let mut mistake = None;
    let flow = tape.chance(30);
    // Targets: Bitbucket Data Center, sometimes working as `admin`, and a SCIM directory.
    let mut bb = vec![
        entry("kind", plain("bitbucket-datacenter")),
        entry("url", plain("sandbox:bb.yaml")),
    ];
    if tape.chance(50) {
        let auth = vec![
            entry("username", plain("admin")),
            entry("token", plain("${env:BB_TOKEN}")),
        ];
        bb.push(entry("auth", map(auth, true)));
    }
    let mut dir = vec![entry("kind", plain("scim")), entry("url", plain("sandbox:dir.yaml"))];
    // No profile is the default, rfc.
    if let Some(profile) = tape.pick(&[None, Some("rfc"), Some("atlassian"), Some("atlassian")]) {
        dir.push(entry("profile", plain(profile)));
    }
    let targets = map(vec![entry(BB, map(bb, false)), entry(DIR, map(dir, flow))], false);

    // People: some offboarded, some renamed on one target, some changed.
    let mut people = Vec::new();
    let mut declared = Vec::new();
    let mut active = Vec::new();
    for &person in PEOPLE {
        if !tape.chance(75) {
            continue;
        }
        declared.push(person);
        let name = if tape.chance(15) {
            "Someone Else".to_owned()
        } else {
            display_name(person)
        };
        let mut fields = vec![
            entry("name", plain(&name)),
            entry("email", plain(&format!("{person}@example.com"))),
        ];
        if tape.chance(15) {
            fields.push(entry("active", raw("false")));
        } else {
            active.push(person);
        }
        let ids = match person {
            "carol" if tape.chance(40) => Some((BB, "cdiaz")),
            "dave" if tape.chance(40) => Some((DIR, "dokafor")),
            "alice" if tape.chance(10) => Some((BB, "Alice")),
            "erin" if tape.chance(3) => Some((BB, "bob")),
            _ => None,
        };
        if ids == Some((BB, "bob")) && declared.contains(&"bob") {
            mistake = Some("two people with one username");
        }
        if let Some((target, id)) = ids {
            fields.push(entry("ids", map(vec![entry(target, plain(id))], true)));
        }
        people.push(entry(person, map(fields, flow)));
    }
    // Groups: members among the declared people (offboarded ones too), some on one target,
    // some renamed from a group that may be live.
    let mut groups = Vec::new();
    let mut on_bb = Vec::new();
    for &group in GROUPS {
        if !tape.chance(70) {
            continue;
        }
        let mut members: Vec<&str> = declared.iter().copied().filter(|_| tape.chance(40)).collect();
        if tape.chance(3) {
            members.push("nobody");
            mistake = Some("a member nobody declared");
        }
        let mut fields = vec![entry("members", seq(&members, flow))];
        match tape.pick(&[0u8, 0, 0, 0, 0, 0, 1, 2]) {
            1 => fields.push(entry("targets", seq(&[BB], true))),
            2 => fields.push(entry("targets", seq(&[DIR], true))),
            _ => on_bb.push(group),
        }
        let renamed_from = match group {
            "mobile" if tape.chance(40) => Some("apps"),
            "ops" if tape.chance(30) => Some("team"),
            "platform" if tape.chance(3) => {
                mistake = Some("a group renamed from its own name");
                Some("Platform")
            }
            _ => None,
        };
        if let Some(old) = renamed_from {
            fields.push(entry("renamed_from", plain(old)));
        }
        if tape.chance(30) {
            fields.push(entry("description", plain("What the group is for")));
        }
        groups.push(entry(group, map(fields, false)));
    }

    // Access on Data Center: global, two projects with a repository each.
    let mut access = Vec::new();
    let mut granted = BTreeSet::new();
    let mut grants = |tape: &mut Tape<'_>, roles: &[&str]| {
        let (out, names) = grants(tape, &active, &on_bb, roles);
        granted.extend(names);
        out
    };
    if tape.chance(60) {
        let roles = ["read", "write", "admin", "SYS_ADMIN"];
        access.push(entry("global", map(grants(tape, &roles), false)));
    }
    let mut projects = Vec::new();
    let roles = ["read", "write", "admin"];
    for (project, repo) in [("PLAT", "infra"), ("API", "payments")] {
        if !tape.chance(60) {
            continue;
        }
        let mut fields = grants(tape, &roles);
        if tape.chance(30) {
            fields.push(entry("all_users", plain(tape.pick(&["none", "read", "write"]))));
        }
        if tape.chance(40) {
            let repo_grants = map(grants(tape, &roles), false);
            fields.push(entry("repos", map(vec![entry(repo, repo_grants)], false)));
        }
        projects.push(entry(project, map(fields, false)));
    }
    if !projects.is_empty() {
        access.push(entry("projects", map(projects, false)));
    }

    // Policy: pruning, protected names, limits loose enough that most plans run.
    let mut policy = Vec::new();
    if tape.chance(85) {
        let mut prune = Vec::new();
        for kind in ["users", "groups", "memberships", "permissions"] {
            if tape.chance(60) {
                prune.push(entry(kind, raw(if tape.chance(60) { "true" } else { "false" })));
            }
        }
        policy.push(entry("prune", map(prune, flow)));
        if tape.chance(35) {
            let mut names = vec![tape.pick(PROTECT)];
            if tape.chance(20) {
                names.push(tape.pick(PROTECT));
            }
            names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            if names.iter().any(|n| granted.contains(&n.to_lowercase())) {
                mistake = Some("a grant to a protected name");
            }
            policy.push(entry("protect", seq(&names, true)));
        }
        if tape.chance(75) {
            let mut limits = vec![entry("max_delete_percent", raw("100"))];
            if tape.chance(20) {
                limits.push(entry("max_deletes", raw(tape.pick(&["3", "10", "50"]))));
            }
            policy.push(entry("limits", map(limits, true)));
        }
        if tape.chance(30) {
            policy.push(entry("min_admins", raw(tape.pick(&["0", "1", "2"]))));
        }
    }

    let mut sections = vec![entry("targets", targets)];
    if !people.is_empty() {
        sections.push(entry("users", map(people, false)));
    }
    if !groups.is_empty() {
        sections.push(entry("groups", map(groups, false)));
    }
    if !access.is_empty() {
        sections.push(entry("access", map(vec![entry(BB, map(access, false))], false)));
    }
    if !policy.is_empty() {
        sections.push(entry("policy", map(policy, false)));
    }
    if granted.contains("undeclared") {
        mistake = Some("a grant to a group nobody declared");
    }
    Manifest {
        sections,
        split: tape.chance(50),
        mistake,
    }
}

/// Grants at one scope: to some of the active people and of the groups on Data Center,
/// now and then to a group nobody declared; with the names granted, lower-cased.
fn grants(tape: &mut Tape<'_>, active: &[&str], on_bb: &[&str], roles: &[&str]) -> (Vec<(String, Node)>, Vec<String>) {
    let mut users = Vec::new();
    for &person in active {
        if tape.chance(12) {
            users.push(entry(person, plain(tape.pick(roles))));
        }
    }
    let mut groups = Vec::new();
    for &group in on_bb {
        if tape.chance(30) {
            groups.push(entry(group, plain(tape.pick(roles))));
        }
    }
    if tape.chance(2) {
        groups.push(entry("undeclared", plain("read")));
    }
    let names = users.iter().chain(&groups).map(|(n, _)| n.to_lowercase()).collect();
    let mut out = Vec::new();
    if !users.is_empty() {
        out.push(entry("users", map(users, true)));
    }
    if !groups.is_empty() {
        out.push(entry("groups", map(groups, true)));
    }
    (out, names)
}

impl Manifest {
    /// The manifest files: one, or one per section.
    pub(super) fn files(&self, layout: &Layout) -> BTreeMap<String, String> {
        if !self.split {
            let text = document(&map(self.sections.clone(), false), layout);
            return BTreeMap::from([("manifest.yaml".to_owned(), text)]);
        }
        self.sections
            .iter()
            .map(|(k, v)| {
                let text = document(&map(vec![(k.clone(), v.clone())], false), layout);
                (format!("{k}.yaml"), text)
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Live state
// ---------------------------------------------------------------------------------------

/// Live accounts: per person, the usernames they may have (their own or the one `ids`
/// gives), and people the manifest never declares.
const ACCOUNTS: &[(&str, &[&str])] = &[
    ("alice", &["alice"]),
    ("bob", &["bob"]),
    ("carol", &["carol", "cdiaz"]),
    ("dave", &["dave", "dokafor"]),
    ("erin", &["erin"]),
    ("frank", &["frank"]),
    ("mallory", &["mallory"]),
    ("trent", &["trent"]),
];
/// Live groups: those a manifest may declare, the names it renames from, and others.
const LIVE_GROUPS: &[&str] = &["platform", "backend", "mobile", "ops", "apps", "team", "contractors"];
/// Data Center's scopes in the cases: the two a manifest may name, with a repository
/// each, and one it never names.
fn scopes() -> Vec<(Scope, &'static [&'static str])> {
    let root = Scope::root();
    let plat = root.child("project", "PLAT");
    let api = root.child("project", "API");
    let ops = root.child("project", "OPS");
    let project: &[&str] = &["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"];
    let repo: &[&str] = &["REPO_READ", "REPO_WRITE", "REPO_ADMIN"];
    vec![
        (
            root.clone(),
            &["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"][..],
        ),
        (plat.child("repo", "infra"), repo),
        (api.child("repo", "payments"), repo),
        (plat, project),
        (api, project),
        (ops, project),
    ]
}

fn user_at(target: &str, name: &str) -> Address {
    Address::new(target, ResourceId::User { name: name.into() })
}

fn group_at(target: &str, name: &str) -> Address {
    Address::new(target, ResourceId::Group { name: name.into() })
}

/// The live state of one target: `scim` for a SCIM service (users with `active` and
/// `externalId`, no grants), else Data Center (with an `admin` account holding
/// SYS_ADMIN and the `stash-users` licence group, as instances have).
pub(super) fn live(tape: &mut Tape<'_>, target: &str, scim: bool) -> ResourceMap {
    let mut state = ResourceMap::new();
    let mut users = Vec::new();
    for &(person, usernames) in ACCOUNTS {
        if !tape.chance(55) {
            continue;
        }
        let username = tape.pick(usernames);
        let username = if tape.chance(15) {
            capitalised(username)
        } else {
            username.to_owned()
        };
        let name = if tape.chance(75) {
            display_name(person)
        } else {
            "Old Name".to_owned()
        };
        let email = if tape.chance(85) {
            format!("{person}@example.com")
        } else {
            "old@example.org".to_owned()
        };
        let mut attrs = UserAttrs::new(name, email);
        if scim {
            attrs.active = Some(!tape.chance(20));
            attrs.external_id = match tape.byte() % 20 {
                0..=14 => Some(person.to_owned()),
                15 => Some("someone-else".to_owned()),
                _ => None,
            };
        }
        state.insert(user_at(target, &username), Resource::User(Box::new(attrs)));
        users.push(username);
    }
    let mut groups = Vec::new();
    for &group in LIVE_GROUPS {
        if tape.chance(50) {
            let name = if tape.chance(15) {
                capitalised(group)
            } else {
                group.to_owned()
            };
            state.insert(group_at(target, &name), Resource::group());
            groups.push(name);
        }
    }
    if !scim {
        let admin = UserAttrs::new("Admin", "admin@example.com");
        state.insert(user_at(target, "admin"), Resource::User(Box::new(admin)));
        state.insert(group_at(target, "stash-users"), Resource::group());
        users.push("admin".to_owned());
        groups.push("stash-users".to_owned());
    }
    for group in &groups {
        for user in &users {
            if tape.chance(20) {
                let id = ResourceId::Membership {
                    group: group.into(),
                    user: user.into(),
                };
                state.insert(Address::new(target, id), Resource::membership());
            }
        }
    }
    if scim {
        return state;
    }
    let principals: Vec<Principal> = users
        .iter()
        .map(|u| Principal::User(u.into()))
        .chain(groups.iter().map(|g| Principal::Group(g.into())))
        .collect();
    let grant = |scope: &Scope, principal: &Principal, permission: &str| {
        let id = ResourceId::Grant {
            scope: scope.clone(),
            principal: principal.clone(),
        };
        let permission = permission.to_owned();
        (Address::new(target, id), Resource::Permission { permission })
    };
    for (scope, permissions) in scopes() {
        for principal in &principals {
            if tape.chance(8) {
                let (a, r) = grant(&scope, principal, tape.pick(permissions));
                state.insert(a, r);
            }
        }
        if scope.segments().len() == 1 && tape.chance(35) {
            let permission = Some(tape.pick(&["PROJECT_READ", "PROJECT_WRITE"]).to_owned());
            state.insert(
                Address::new(target, ResourceId::Default { scope }),
                Resource::Default { permission },
            );
        }
    }
    let (a, r) = grant(&Scope::root(), &Principal::User("admin".into()), "SYS_ADMIN");
    state.insert(a, r);
    let (a, r) = grant(&Scope::root(), &Principal::Group("stash-users".into()), "LICENSED_USER");
    state.insert(a, r);
    state
}
