//! `import`: live state to manifests that plan to no changes against it.
//!
//! From the live state of some targets (read whole: `ReadScope::everything`) it writes
//! one file per concern: `targets.yaml` (as the source manifests declare them, tokens by
//! reference), `people.yaml`, `groups.yaml`, `access/TARGET.yaml` for each target with
//! grants, and `policy.yaml` with pruning off. Keys are what people read: usernames (a
//! SCIM account's externalId, which the manifest ties to the person's key), group names,
//! project keys, repository slugs; everything is sorted and nothing depends on the
//! clock, so importing the same state twice writes the same bytes.
//!
//! What a manifest cannot state exactly is written as a comment starting `not imported:`
//! where it would have been, and left unmanaged: never dropped in silence, never
//! declared weaker or different than it is. Before anything is written, the files are
//! resolved and planned against the same live state; any change in that plan is an error.

mod access;
mod facts;
mod groups;
mod people;
mod targets;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::desired::{GroupId, TargetConfig};
use crate::model::{Kind, ResourceMap};
use crate::provider::Findings;
use facts::Facts;
pub(crate) use targets::resolved;
use yaml::{Item, Node};

/// Where the manifests were read from and where the imported ones go: relative paths in
/// targets are rewritten from the one to the other.
pub struct Place<'a> {
    pub manifests: &'a Path,
    pub out: &'a Path,
}

/// The imported manifests, not yet written.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Path relative to the output directory (`/`-separated) to the file's text.
    pub files: BTreeMap<String, String>,
    /// Everything left as a `not imported:` comment, as `FILE: what and why`.
    pub notes: Vec<String>,
    /// What the files declare, counted as `validate` counts it.
    pub counts: Counts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// People declared (`users:`), each once however many targets know them.
    pub people: usize,
    /// User accounts the targets hold as objects of their plans: none where people are
    /// made elsewhere and only found by email (Bitbucket Cloud, the Atlassian directory).
    pub accounts: usize,
    pub groups: usize,
    pub memberships: usize,
    pub permissions: usize,
    /// Live objects the imported manifests leave unmanaged.
    pub unmanaged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Path(String),
    /// The files do not round-trip: a fault in import, described for a bug report.
    #[error("the imported manifests would not plan to no changes against the state they came from:\n{0}")]
    RoundTrip(String),
}

/// What the builders share: the targets and what each has.
pub(crate) struct Context<'a> {
    targets: &'a BTreeMap<String, TargetConfig>,
    facts: BTreeMap<String, Facts>,
}

impl Context<'_> {
    fn new<'a>(
        targets: &'a BTreeMap<String, TargetConfig>,
        live: &BTreeMap<String, ResourceMap>,
        findings: &BTreeMap<String, Findings>,
    ) -> Context<'a> {
        let empty = ResourceMap::new();
        let facts = targets
            .keys()
            .map(|t| {
                (
                    t.clone(),
                    facts::read(t, live.get(t).unwrap_or(&empty), findings.get(t)),
                )
            })
            .collect();
        Context { targets, facts }
    }

    /// Whether accounts on `target` have an `active` flag the manifest sets.
    fn user_active(&self, target: &str) -> bool {
        self.targets.get(target).is_some_and(|t| t.platform.users().deactivate)
    }

    /// Whether `target`'s people are made elsewhere (`KindRules::external`: Bitbucket
    /// Cloud's, in the Atlassian organization's directory): a declared person is never
    /// created there, so one it does not have is no reason to leave them out.
    fn users_external(&self, target: &str) -> bool {
        self.targets.get(target).is_some_and(|t| t.platform.users().external)
    }

    /// Whether `target`'s accounts are the people's own, never compared (a Buildkite
    /// member's name and email).
    fn users_fixed(&self, target: &str) -> bool {
        self.targets
            .get(target)
            .is_some_and(|t| t.platform.users().attributes_fixed)
    }

    /// Whether `target` finds people by email (a Buildkite organization): the key is
    /// the person's name there, whatever the account's.
    fn users_by_email(&self, target: &str) -> bool {
        self.targets
            .get(target)
            .is_some_and(|t| t.platform.spec().users_by_email)
    }

    /// Whether `target`'s people are made by another target imported along (its
    /// `principals_from`), which names them.
    fn borrows_users(&self, target: &str) -> bool {
        self.users_external(target)
            && self
                .targets
                .get(target)
                .and_then(|t| t.principals_from.as_ref())
                .is_some_and(|from| self.targets.contains_key(from))
    }

    /// Whether `target`'s groups are made elsewhere: it only refers to them, by name.
    fn groups_external(&self, target: &str) -> bool {
        self.targets.get(target).is_some_and(|t| t.platform.groups().external)
    }
}

/// The people and groups that the targets read so far (the directories) have, by the
/// names import gives them: what a target taking its principals from them
/// (`principals_from`) must be read with, so that its grants name people and groups as
/// the directory does rather than by account id and slug.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// Each person import declares, by key, with their email.
    pub people: BTreeMap<String, String>,
    /// Each group import declares, by name.
    pub groups: BTreeSet<String>,
}

impl Principals {
    /// Sets `config`'s read scope to find these: people by email, groups by the
    /// identifier its platform derives from their names (`Spec::group_ids`), where two
    /// groups would not share one (neither is given: their grants stay by slug, and
    /// import says so).
    pub fn give(&self, config: &mut TargetConfig) {
        config.scope.people.clone_from(&self.people);
        let Some(rule) = config.platform.spec().group_ids.as_ref() else {
            return;
        };
        let mut by_id: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for name in &self.groups {
            by_id.entry((rule.derive)(name).to_lowercase()).or_default().push(name);
        }
        for name in &self.groups {
            let id = (rule.derive)(name);
            if by_id.get(&id.to_lowercase()).is_some_and(|names| names.len() == 1) {
                config
                    .scope
                    .group_ids
                    .insert(name.clone(), GroupId { id, declared: false });
            }
        }
    }
}

/// The people and groups import would declare from these targets' live state.
pub fn principals(
    targets: &BTreeMap<String, TargetConfig>,
    live: &BTreeMap<String, ResourceMap>,
    findings: &BTreeMap<String, Findings>,
) -> Principals {
    let cx = Context::new(targets, live, findings);
    let people = people::join(&cx);
    let groups = groups::gather(&cx, &people);
    Principals {
        people: people
            .declared
            .iter()
            .map(|(k, p)| (k.clone(), p.email.clone()))
            .collect(),
        groups: groups.declared.keys().cloned().collect(),
    }
}

/// The manifests for `targets`, from their live state, checked to plan to no changes.
pub fn build(
    targets: &BTreeMap<String, TargetConfig>,
    live: &BTreeMap<String, ResourceMap>,
    place: &Place<'_>,
) -> Result<Imported, ImportError> {
    build_with(targets, live, &BTreeMap::new(), place)
}

/// [`build`], with what the providers found while reading (`Live::findings`): the
/// principals a platform fixes (a workspace's owner, a synced group) are not declared
/// as rollcall's to change, and the check plans as `rollcall plan` does.
pub fn build_with(
    targets: &BTreeMap<String, TargetConfig>,
    live: &BTreeMap<String, ResourceMap>,
    findings: &BTreeMap<String, Findings>,
    place: &Place<'_>,
) -> Result<Imported, ImportError> {
    let cx = Context::new(targets, live, findings);
    let people = people::join(&cx);
    let groups = groups::gather(&cx, &people);
    let names: Vec<&str> = targets.keys().map(String::as_str).collect();
    let from = format!("Imported by `rollcall import` from {}.", people::list(names));

    let mut documents: Vec<(String, Vec<&str>, Item)> = vec![
        (
            "targets.yaml".to_owned(),
            vec!["Tokens are references, as the manifests imported from have them."],
            targets_section(&cx, place)?,
        ),
        (
            "people.yaml".to_owned(),
            vec!["Each person once, joined across targets by email; `ids` where a username is not the key."],
            users_section(&people),
        ),
        ("groups.yaml".to_owned(), Vec::new(), groups_section(&groups, &cx)),
    ];
    for (name, facts) in &cx.facts {
        let Some(platform) = cx.targets.get(name).map(|t| t.platform) else {
            continue;
        };
        if let Some(entry) = access::access(name, platform, facts, &people, &groups) {
            let section = Item::entry("access", Node::Map(vec![entry]));
            documents.push((format!("access/{name}.yaml"), Vec::new(), section));
        }
    }
    documents.push((
        "policy.yaml".to_owned(),
        vec![
            "Pruning is off: live objects these manifests do not declare are listed as unmanaged",
            "and left alone. The safety rules (protect, limits, min_admins) are in docs/safety.md.",
        ],
        policy_section(),
    ));

    let mut files = BTreeMap::new();
    let mut notes = Vec::new();
    for (file, about, section) in documents {
        collect_notes(&file, "", &section, &mut notes);
        let header: Vec<String> = std::iter::once(from.clone())
            .chain(about.into_iter().map(str::to_owned))
            .collect();
        files.insert(file, yaml::document(&header, &[section]));
    }
    let counts = Counts {
        people: people.declared.len(),
        ..round_trip(place.out, &files, live, findings)?
    };
    Ok(Imported { files, notes, counts })
}

fn targets_section(cx: &Context<'_>, place: &Place<'_>) -> Result<Item, ImportError> {
    let mut entries = Vec::new();
    for (name, config) in cx.targets {
        let unknown = cx.facts.get(name).map(|f| f.unknown.as_slice()).unwrap_or_default();
        let mut notes: Vec<String> = unknown
            .iter()
            .map(|a| format!("{NOT_IMPORTED} `{a}`, a kind of object import does not know"))
            .collect();
        // A source target not imported along would be an unknown name in these files.
        let mut config = config.clone();
        if let Some(from) = config.principals_from.take_if(|f| !cx.targets.contains_key(f.as_str())) {
            notes.push(format!(
                "{NOT_IMPORTED} `principals_from: {from}`, a target not imported with this one: import both to have grants name people and groups as `{from}` does"
            ));
        }
        entries.push(targets::target(&config, place, notes)?);
    }
    Ok(Item::entry("targets", Node::Map(entries)))
}

fn users_section(people: &people::People) -> Item {
    let mut users: Vec<Item> = people
        .declared
        .iter()
        .map(|(key, p)| {
            let mut fields = vec![
                Item::scalar("name", p.name.clone()),
                Item::scalar("email", p.email.clone()),
            ];
            if !p.active {
                fields.push(Item::bool("active", false));
            }
            if !p.ids.is_empty() {
                let ids = p.ids.iter().map(|(t, u)| Item::scalar(t.clone(), u.clone())).collect();
                fields.push(Item::entry("ids", Node::Map(ids)));
            }
            Item::entry(key.clone(), Node::Map(fields))
        })
        .collect();
    for s in &people.skipped {
        users.push(Item::Comment(format!("{NOT_IMPORTED} `{}`: {}.", s.label, s.why)));
        for (target, username, a) in &s.accounts {
            let mut line = format!("  on `{target}`: `{username}`, {} <{}>", a.display_name, a.email);
            if a.is_inactive() {
                line.push_str(", inactive");
            }
            if let Some(x) = &a.external_id {
                line.push_str(&format!(", externalId `{x}`"));
            }
            users.push(Item::Comment(line));
        }
    }
    Item::entry("users", Node::Map(users))
}

/// Each group on the targets it has, with its description, members, maintainers and
/// settings. A group is never live on a
/// target whose groups are made elsewhere (`external`), where it is referred to by name:
/// a group is declared on each of those, so that their grants can name it.
fn groups_section(groups: &groups::Groups, cx: &Context<'_>) -> Item {
    let (external, holding): (Vec<&String>, Vec<&String>) = cx.targets.keys().partition(|t| cx.groups_external(t));
    let mut entries: Vec<Item> = groups
        .declared
        .iter()
        .map(|(name, g)| {
            let mut members: Vec<Item> = g.members.iter().cloned().map(Item::Element).collect();
            members.extend(g.notes.iter().cloned().map(Item::Comment));
            let (text, settings): (Vec<_>, Vec<_>) = g.settings.iter().partition(|s| s.text);
            let mut fields: Vec<Item> = text
                .into_iter()
                .map(|s| Item::scalar(s.field, s.word.clone()))
                .collect();
            fields.push(Item::entry("members", Node::List(members)));
            if !g.maintainers.is_empty() {
                let maintainers = g.maintainers.iter().cloned().map(Item::Element).collect();
                fields.push(Item::entry("maintainers", Node::List(maintainers)));
            }
            fields.extend(settings.into_iter().map(|s| match s.flag {
                true => Item::bool(s.field, s.word == "true"),
                false => Item::scalar(s.field, s.word.clone()),
            }));
            if g.targets.len() < holding.len() {
                let mut on: Vec<&String> = g.targets.iter().chain(external.iter().copied()).collect();
                on.sort();
                let on = on.into_iter().cloned().map(Item::Element).collect();
                fields.push(Item::entry("targets", Node::List(on)));
            }
            Item::entry(name.clone(), Node::Map(fields))
        })
        .collect();
    for (name, why) in &groups.skipped {
        entries.push(Item::Comment(format!("{NOT_IMPORTED} group `{name}`: {why}.")));
    }
    Item::entry("groups", Node::Map(entries))
}

fn policy_section() -> Item {
    let prune = ["users", "groups", "memberships", "permissions"]
        .into_iter()
        .map(|k| Item::bool(k, false))
        .collect();
    Item::entry("policy", Node::Map(vec![Item::entry("prune", Node::Map(prune))]))
}

/// How every comment on something left out starts.
const NOT_IMPORTED: &str = "not imported:";

/// Every `not imported:` comment under `item`, as `FILE: path.in.file: comment`.
fn collect_notes(file: &str, path: &str, item: &Item, notes: &mut Vec<String>) {
    match item {
        Item::Comment(text) if text.starts_with(NOT_IMPORTED) => {
            notes.push(format!("{file}: {path}: {text}"));
        }
        Item::Entry(key, Node::Map(items) | Node::List(items)) => {
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            for i in items {
                collect_notes(file, &path, i, notes);
            }
        }
        Item::Comment(_) | Item::Entry(_, Node::Scalar(_) | Node::Bool(_)) | Item::Element(_) => {}
    }
}

/// Resolves the files as `plan` would read them from `out` and plans them against the
/// live state they came from: there must be nothing to do.
fn round_trip(
    out: &Path,
    files: &BTreeMap<String, String>,
    live: &BTreeMap<String, ResourceMap>,
    findings: &BTreeMap<String, Findings>,
) -> Result<Counts, ImportError> {
    let texts: Vec<(String, String)> = files.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let (loaded, mut problems) = crate::manifest::load_texts(out, &texts);
    let desired = match crate::resolve::resolve(&loaded) {
        Ok(desired) if problems.is_empty() => desired,
        Ok(_) => {
            return Err(ImportError::RoundTrip(crate::manifest::diagnostic::render_all(
                &problems,
            )))
        }
        Err(more) => {
            problems.extend(more);
            return Err(ImportError::RoundTrip(crate::manifest::diagnostic::render_all(
                &problems,
            )));
        }
    };
    let plan = crate::plan::build_with(&desired, live, findings).map_err(|e| ImportError::RoundTrip(e.to_string()))?;
    // A held change is one too: import declares only grants to holders the target has,
    // so nothing it writes may wait for someone.
    if !plan.is_empty() || !plan.held.is_empty() {
        return Err(ImportError::RoundTrip(crate::render::render(
            &plan,
            crate::render::Format::Text,
        )));
    }
    let count = |kind: Kind| desired.resources.keys().filter(|a| a.id.kind() == kind).count();
    Ok(Counts {
        people: 0,
        accounts: count(Kind::Users),
        groups: count(Kind::Groups),
        memberships: count(Kind::Memberships),
        permissions: count(Kind::Permissions),
        unmanaged: plan.unmanaged.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Principal, Resource, ResourceId, Scope, UserAttrs};

    const TARGETS: &str = "targets:
  org:
    kind: atlassian-organization
    url: sandbox:state.yaml
    organization: o1
    directory: d1
  cloud:
    kind: bitbucket-cloud
    url: sandbox:state.yaml
    workspace: ws
    principals_from: org
";

    fn user(target: &str, name: &str, display: &str) -> (Address, Resource) {
        let email = format!("{}@example.com", name.split('@').next().unwrap_or(name));
        let id = ResourceId::User { name: name.into() };
        (
            Address::new(target, id),
            Resource::User(Box::new(UserAttrs::new(display, email))),
        )
    }

    fn grant(scope: &Scope, principal: Principal, permission: &str) -> (Address, Resource) {
        let id = ResourceId::Grant {
            scope: scope.clone(),
            principal,
        };
        let permission = permission.to_owned();
        (Address::new("cloud", id), Resource::Permission { permission })
    }

    #[test]
    fn derived_slugs_are_given_except_where_two_groups_would_share_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("targets.yaml"), TARGETS).unwrap();
        let desired = crate::engine::load(dir.path()).unwrap();
        let mut cloud = desired.targets["cloud"].clone();
        let principals = Principals {
            people: BTreeMap::from([("ann@example.com".to_owned(), "ann@example.com".to_owned())]),
            groups: ["Platform Team", "platform-team", "Payments"].map(str::to_owned).into(),
        };
        principals.give(&mut cloud);
        assert_eq!(cloud.scope.people, principals.people);
        let ids: Vec<(&str, &str)> = cloud
            .scope
            .group_ids
            .iter()
            .map(|(name, id)| (name.as_str(), id.id.as_str()))
            .collect();
        assert_eq!(ids, [("Payments", "payments")]);
        // A directory has no slugs: only people are given.
        let mut org = desired.targets["org"].clone();
        principals.give(&mut org);
        assert!(org.scope.group_ids.is_empty());
    }

    #[test]
    fn a_workspace_names_the_directory_people_and_groups_and_leaves_the_owner_out() {
        let dir = tempfile::tempdir().unwrap();
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(manifests.join("targets.yaml"), TARGETS).unwrap();
        let desired = crate::engine::load(&manifests).unwrap();

        let mut org = ResourceMap::new();
        // Ann is in the workspace; Bob is in the directory only; Owen owns the workspace.
        for (name, display) in [("ann", "Ann A"), ("bob", "Bob B"), ("owen", "Owen O")] {
            let (a, r) = user("org", &format!("{name}@example.com"), display);
            org.insert(a, r);
        }
        let group = ResourceId::Group { name: "devs".into() };
        let described = Resource::Group {
            attributes: [("description".to_owned(), "Developers: every product".to_owned())].into(),
        };
        org.insert(Address::new("org", group), described);
        let member = ResourceId::Membership {
            group: "devs".into(),
            user: "ann@example.com".into(),
        };
        org.insert(Address::new("org", member), Resource::membership());

        let mut cloud = ResourceMap::new();
        for name in ["ann@example.com", "owen@example.com"] {
            let (a, r) = user("cloud", name, "whatever Bitbucket shows");
            cloud.insert(a, r);
        }
        let api = Scope::root().child("project", "API");
        for (a, r) in [
            grant(&api, Principal::User("ann@example.com".into()), "write"),
            grant(&api, Principal::User("owen@example.com".into()), "admin"),
            grant(&api, Principal::Group("devs".into()), "read"),
            grant(&api, Principal::User("557058:stranger".into()), "read"),
        ] {
            cloud.insert(a, r);
        }
        let live = BTreeMap::from([("org".to_owned(), org), ("cloud".to_owned(), cloud)]);
        let owner = Findings {
            fixed: vec![(
                Principal::User("owen@example.com".into()),
                "the workspace owner".to_owned(),
            )],
            ..Findings::default()
        };
        let findings = BTreeMap::from([("cloud".to_owned(), owner)]);
        let out = dir.path().join("imported");
        let place = Place {
            manifests: &manifests,
            out: &out,
        };
        let imported = build_with(&desired.targets, &live, &findings, &place).unwrap();

        let people = &imported.files["people.yaml"];
        for who in ["ann", "bob", "owen"] {
            assert!(people.contains(&format!("  {who}@example.com:\n")), "{people}");
        }
        // The directory's name, not the one the workspace shows.
        assert!(people.contains("    name: Ann A\n"), "{people}");
        let groups = &imported.files["groups.yaml"];
        assert!(!groups.contains("targets:"), "{groups}");
        // The directory stores a group's description: it is the group's, in the manifest.
        assert!(
            groups.contains("  devs:\n    description: \"Developers: every product\"\n    members:\n"),
            "{groups}"
        );
        let access = &imported.files["access/cloud.yaml"];
        assert!(
            access.contains("users:\n          ann@example.com: write\n"),
            "{access}"
        );
        assert!(access.contains("groups:\n          devs: read\n"), "{access}");
        assert!(
            access.contains("# not imported: user `owen@example.com` holds `admin` here, but the workspace owner"),
            "{access}"
        );
        assert!(access.contains("# not imported: account `557058:stranger`"), "{access}");
    }
}
