//! The plan: what `apply` would do to make live state match the manifest. Built by `diff`
//! (which changes, and what is left alone as unmanaged) and ordered by `graph`.

pub mod diff;
pub mod file;
pub mod graph;
pub mod notes;
pub mod sources;
pub mod stale;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::desired::{Desired, Policy, TargetConfig};
use crate::model::{Address, Resource, ResourceMap};
use crate::safety::{Existing, Refusal};
pub use notes::{Held, Note};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// One change to one resource. `reason` is for display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub before: Option<Resource>,
    pub after: Option<Resource>,
    pub reason: Option<String>,
    /// On a group renamed in the manifest (`renamed_from`), the live group's old name: an
    /// update renames that group in place; a create replaces it (the platform cannot
    /// rename), and the old group's members move before it is deleted.
    pub renamed_from: Option<String>,
    /// On the deletion of a group the manifest renamed where the platform cannot rename:
    /// the new group, which receives the members before this one loses them.
    pub renamed_to: Option<String>,
}

impl Change {
    /// A change that removes access: a delete, or a user's deactivation. Removals run
    /// after what depends on them and count against the delete limits.
    pub fn removes(&self) -> bool {
        match (self.action, &self.before, &self.after) {
            (Action::Delete, _, _) => true,
            (Action::Update, Some(Resource::User(before)), Some(Resource::User(after))) => {
                !before.is_inactive() && after.is_inactive()
            }
            _ => false,
        }
    }

    /// An update that makes a principal usable again: a user reactivated. Like a create,
    /// it goes before what refers to the user (a service may refuse a deactivated member).
    pub fn reactivates(&self) -> bool {
        matches!(
            (self.action, &self.before, &self.after),
            (Action::Update, Some(Resource::User(before)), Some(Resource::User(after)))
                if before.is_inactive() && !after.is_inactive()
        )
    }

    /// An update that renames a group in place.
    pub fn renames(&self) -> Option<&str> {
        (self.action == Action::Update)
            .then_some(self.renamed_from.as_deref())
            .flatten()
    }
}

/// A live object the manifest does not declare, left alone because pruning its kind is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmanaged {
    pub address: Address,
    pub current: Resource,
}

/// Per-target counts, for the summary lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unmanaged: usize,
}

impl Summary {
    pub fn changes(&self) -> usize {
        self.create + self.update + self.delete
    }
}

/// A target as the plan describes it: its name, where it points and how to reach it
/// again, by reference (never a secret).
#[derive(Debug, Clone)]
pub struct PlannedTarget {
    pub name: String,
    /// The URL as the manifest wrote it, for display.
    pub endpoint: String,
    /// The account rollcall works as there, when known.
    pub account: Option<String>,
    pub config: TargetConfig,
    /// People only invited there, not members yet (lower-cased): an admin role their
    /// invitation carries is no administrator until they accept, so the safety rules
    /// do not count it. Known from the read; empty for a plan read from a file.
    pub invited: BTreeSet<String>,
}

#[cfg(test)]
impl PlannedTarget {
    /// A Bitbucket Data Center target on a sandbox, taking its principals from `from`,
    /// for unit tests.
    pub(crate) fn sandbox(name: &str, from: Option<&str>) -> PlannedTarget {
        let mut config = TargetConfig::sandbox(name, crate::provider::bitbucket_dc::PLATFORM);
        config.principals_from = from.map(str::to_owned);
        PlannedTarget {
            name: name.to_owned(),
            endpoint: config.url.clone(),
            account: None,
            config,
            invited: BTreeSet::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub targets: Vec<PlannedTarget>,
    /// In execution order: every change comes after the changes it depends on.
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    /// Changes held back until something outside the plan happens, with what to do.
    pub held: Vec<Held>,
    /// What the plan says besides its changes, sorted.
    pub notes: Vec<Note>,
    /// What the changes do to people's effective access, sorted by person.
    pub effects: Vec<crate::access::effect::Effect>,
    /// The policy the plan was made under; `apply` checks the safety rules against it.
    pub policy: Policy,
    /// Live objects per target and kind when the plan was made.
    pub existing: Existing,
    pub manifest_digest: String,
    /// The manifest directory the plan was made from, so `apply FILE` can take the policy
    /// from it and plan again to compare.
    pub manifest_dir: PathBuf,
    /// The directory the plan's JSON document is written for: paths in it (the manifest
    /// directory, sandbox state files) are relative to this, so a plan file still points
    /// at the right files whatever directory it is applied from.
    pub base: PathBuf,
    /// The safety rules the plan breaks; a plan with any is not applied.
    pub refusals: Vec<Refusal>,
    /// For a plan read from a file: that file's digest, which renderings show rather than
    /// the digest of the plan as checked again (its refusals may have changed since).
    pub file_digest: Option<String>,
    /// What the identity sources gave, where the manifests take people from them.
    pub sources: Option<sources::SourcesSummary>,
    /// `--allow-source-shrink`: the groups (source groups as `SOURCE:GROUP`, or manifest
    /// groups) this run lets shrink past `policy.sources`; `*` lets every one. Given per
    /// run, never saved with the plan.
    pub allow_shrink: BTreeSet<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        self.summaries().into_values().fold(Summary::default(), |a, s| Summary {
            create: a.create + s.create,
            update: a.update + s.update,
            delete: a.delete + s.delete,
            unmanaged: a.unmanaged + s.unmanaged,
        })
    }

    /// Counts per target, for every planned target (including those with no changes).
    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        let mut out: BTreeMap<String, Summary> = self
            .targets
            .iter()
            .map(|t| (t.name.clone(), Summary::default()))
            .collect();
        for c in &self.changes {
            let s = out.entry(c.address.target.to_string()).or_default();
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
            }
        }
        for u in &self.unmanaged {
            out.entry(u.address.target.to_string()).or_default().unmanaged += 1;
        }
        out
    }
}

/// Builds the plan for every target from desired and live state. The safety rules are
/// not checked here: see `review`. Fails only if the changes wait for each other in a
/// cycle, which no order can run.
pub fn build(desired: &Desired, live: &BTreeMap<String, ResourceMap>) -> Result<Plan, graph::Cycle> {
    build_with(desired, live, &BTreeMap::new())
}

/// [`build`], with what the providers found while reading (`Provider::findings`).
pub fn build_with(
    desired: &Desired,
    live: &BTreeMap<String, ResourceMap>,
    findings: &BTreeMap<String, crate::provider::Findings>,
) -> Result<Plan, graph::Cycle> {
    let mut changes = Vec::new();
    let mut unmanaged = Vec::new();
    let mut targets = Vec::new();
    for (name, config) in &desired.targets {
        let empty = ResourceMap::new();
        let (c, u) = diff::diff_target(name, desired, live.get(name).unwrap_or(&empty));
        changes.extend(c);
        unmanaged.extend(u);
        let invited = findings
            .get(name)
            .map(crate::provider::Findings::invited)
            .unwrap_or_default();
        targets.push(PlannedTarget {
            name: name.clone(),
            endpoint: config.url.clone(),
            account: config.account.clone(),
            config: config.clone(),
            invited,
        });
    }
    unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    let (changes, mut notes) = notes::fixed(changes, findings);
    let (changes, sso) = notes::left_alone(changes, findings);
    notes.extend(sso);
    let (changes, unchangeable) = notes::create_only(changes, desired);
    notes.extend(unchangeable);
    let (changes, mut held) = notes::hold(changes, desired, live);
    let (changes, invited, pending) = notes::pending(changes, findings);
    held.extend(invited);
    notes.extend(pending);
    notes.extend(notes::shadowed(&changes, desired));
    notes.extend(notes::group_ids(&changes, desired));
    notes.extend(notes::remarks(findings));
    let (effects, no_effect) = effect_of(&targets, live, &changes, &notes, desired, findings);
    notes.extend(no_effect);
    notes.sort();
    notes.dedup();
    let changes = graph::order(changes, &targets)?;
    Ok(Plan {
        targets,
        changes,
        unmanaged,
        held,
        notes,
        effects,
        policy: desired.policy.clone(),
        existing: crate::safety::count_existing(live),
        manifest_digest: desired.manifest_digest.clone(),
        manifest_dir: desired.manifest_dir.clone(),
        base: PathBuf::from("."),
        refusals: Vec::new(),
        file_digest: None,
        sources: desired.sources_summary(),
        allow_shrink: std::collections::BTreeSet::new(),
    })
}

/// What the changes do to people's access on each target, and a note for each change
/// that alters nobody's, where no note says so already and it is not an offboarding's
/// (taking what an offboarded person held is the point, even where it was held twice).
fn effect_of(
    targets: &[PlannedTarget],
    live: &BTreeMap<String, ResourceMap>,
    changes: &[Change],
    notes: &[Note],
    desired: &Desired,
    findings: &BTreeMap<String, crate::provider::Findings>,
) -> (Vec<crate::access::effect::Effect>, Vec<Note>) {
    let usernames = &desired.usernames;
    let refs: Vec<_> = targets
        .iter()
        .map(|t| crate::access::TargetRef {
            name: &t.name,
            platform: t.config.platform,
            principals_from: t.config.principals_from.as_deref(),
            usernames: usernames.get(&t.name),
            invited: Some(&t.invited),
            read: Some(&t.config.scope),
            unread_members: findings.get(&t.name).map(|f| &f.unread_members),
        })
        .collect();
    let offboarding = |c: &&Change| {
        let gone = desired.offboarded.get(c.address.target.as_str());
        c.address.id.principals().iter().any(|p| {
            matches!(p, crate::model::Principal::User(u)
                if gone.is_some_and(|g| g.iter().any(|o| o.eq_ignore_ascii_case(u))))
        })
    };
    let unnoted = notes
        .iter()
        .filter(|n| n.text.starts_with("no effect"))
        .filter_map(|n| n.address.clone())
        .chain(changes.iter().filter(offboarding).map(|c| c.address.clone()))
        .collect();
    crate::access::effect::of_plan(&refs, live, changes, &unnoted)
}

/// A plan the safety rules passed, against live state as read for it: the only thing
/// `apply` runs. Only `Plan::review` makes one.
#[derive(Debug, Clone)]
pub struct Reviewed(Plan);

/// A plan some safety rule refuses, with its refusals filled in: it can be shown and
/// saved (a later `apply FILE --allow-deletes N` may admit it), never applied.
#[derive(Debug, Clone)]
pub struct Refused(pub Box<Plan>);

impl std::ops::Deref for Reviewed {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        &self.0
    }
}

impl Reviewed {
    pub fn into_plan(self) -> Plan {
        self.0
    }
}

impl Plan {
    /// Checks the safety rules against live state as just read, and records the account
    /// each target works as (a sandbox's is only known once it runs). A plan that breaks
    /// none is `Reviewed`; one that breaks any comes back `Refused`, with the reasons.
    pub fn review(
        mut self,
        accounts: &BTreeMap<String, String>,
        live: &BTreeMap<String, ResourceMap>,
        allow_deletes: Option<usize>,
    ) -> Result<Reviewed, Refused> {
        for t in &mut self.targets {
            if let Some(a) = accounts.get(&t.name) {
                t.account = Some(a.clone());
            }
        }
        let accounts: BTreeMap<String, String> = self
            .targets
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.account.clone()?)))
            .collect();
        let platforms = self
            .targets
            .iter()
            .map(|t| (t.name.clone(), t.config.platform))
            .collect();
        let invited = self
            .targets
            .iter()
            .map(|t| (t.name.clone(), t.invited.clone()))
            .collect();
        let cx = crate::safety::Context {
            policy: &self.policy,
            platforms: &platforms,
            accounts: &accounts,
            invited: &invited,
            live,
            existing: &self.existing,
            allow_deletes,
            sources: self.sources.as_ref(),
            allow_shrink: &self.allow_shrink,
        };
        self.refusals = crate::safety::check(&self.changes, &cx);
        if self.refusals.is_empty() {
            Ok(Reviewed(self))
        } else {
            Err(Refused(Box::new(self)))
        }
    }
}
