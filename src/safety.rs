//! `safety`: the rules a plan must pass before any of it runs. They are checked when the
//! plan is made (so a pull request shows the refusal) and again by `apply`, against live
//! state as it is then. A broken rule refuses the whole plan: rollcall never applies part
//! of a plan a rule objects to.
//!
//! - protected principals are never touched, nor anything they hold or belong to;
//! - the account rollcall works as is never deleted, and its permission at the root
//!   scope never lowered (on Bitbucket Data Center, losing LICENSED_USER is losing the
//!   licence);
//! - at least `min_admins` users keep what their platform calls administrator (ADMIN or
//!   SYS_ADMIN on Bitbucket Data Center), directly or through a group;
//! - delete limits: at most `max_deletes` in one plan, and at most `max_delete_percent`
//!   of the live objects of a kind on a target once `min_existing` of them exist. Only
//!   these can be waived, by `--allow-deletes N` after review.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::desired::Policy;
use crate::model::{Address, Kind, Overlay, Principal, Resource, ResourceId, ResourceMap, Spellings};
use crate::plan::{Action, Change};
use crate::platform::Platform;

/// Which rule refused a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Protected,
    OwnAccount,
    MinAdmins,
    MaxDeletes,
    MaxDeletePercent,
    /// The plan would take over an account another provisioning client owns: its
    /// externalId names someone else.
    ForeignAccount,
    /// The plan would change an object of a kind its platform keeps read-only.
    ReadOnly,
    /// A group fed by an identity source came back empty, or shrank past
    /// `policy.sources.max_shrink_percent`: the source may have failed open.
    SourceShrink,
}

/// One reason the plan may not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub rule: Rule,
    pub message: String,
    /// What to do about this refusal in particular, where the rule's general advice
    /// would not help (or would make it worse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Live objects per target and kind, as read when the plan was made: the base of the
/// percentage limit. A saved plan carries them, so `apply` judges by the same numbers.
pub type Existing = BTreeMap<String, BTreeMap<Kind, usize>>;

pub fn count_existing(live: &BTreeMap<String, ResourceMap>) -> Existing {
    let mut out = Existing::new();
    for (target, state) in live {
        let counts = out.entry(target.clone()).or_default();
        for kind in Kind::ALL {
            counts.insert(kind, 0);
        }
        for address in state.keys() {
            *counts.entry(address.id.kind()).or_default() += 1;
        }
    }
    out
}

/// What the rules look at besides the changes.
pub struct Context<'a> {
    pub policy: &'a Policy,
    /// The platform of each target: what its permissions rank and who is an administrator.
    pub platforms: &'a BTreeMap<String, Platform>,
    /// The account each target's token belongs to, where known.
    pub accounts: &'a BTreeMap<String, String>,
    /// People only invited on each target, not members yet (lower-cased): never counted
    /// as administrators.
    pub invited: &'a BTreeMap<String, BTreeSet<String>>,
    /// Live state per target, as read just now.
    pub live: &'a BTreeMap<String, ResourceMap>,
    pub existing: &'a Existing,
    /// `--allow-deletes N`: the delete limits let up to N deletes through.
    pub allow_deletes: Option<usize>,
    /// What the identity sources gave, where the manifests take people from them.
    pub sources: Option<&'a crate::plan::sources::SourcesSummary>,
    /// `--allow-source-shrink`: groups let shrink past the limit this run (`*`: all).
    pub allow_shrink: &'a BTreeSet<String>,
}

/// Every rule the changes break, in a stable order.
pub fn check(changes: &[Change], cx: &Context<'_>) -> Vec<Refusal> {
    let mut out = protected(changes, cx.policy);
    out.extend(foreign_accounts(changes));
    let targets: BTreeSet<&str> = changes.iter().map(|c| c.address.target.as_str()).collect();
    for target in targets {
        let mine: Vec<&Change> = changes.iter().filter(|c| c.address.target == target).collect();
        let empty = ResourceMap::new();
        let live = cx.live.get(target).unwrap_or(&empty);
        // Live names spelled as the plan spells them, so the projection lines up.
        let mut spellings = Spellings::default();
        if let Some(account) = cx.accounts.get(target) {
            spellings.learn(&ResourceId::User {
                name: account.as_str().into(),
            });
        }
        for c in &mine {
            spellings.learn(&c.address.id);
        }
        let before = spellings.respell(live);
        let (after, cascade) = project(&before, &mine);
        out.extend(protected_in_cascade(&cascade, cx.policy));
        let Some(&platform) = cx.platforms.get(target) else {
            continue; // not a target of the plan: nothing of it changes
        };
        out.extend(read_only(platform, &mine));
        if let Some(account) = cx.accounts.get(target) {
            out.extend(own_account(platform, target, account, &mine, &before, &after));
        }
        let invited = cx.invited.get(target);
        out.extend(min_admins(
            platform,
            target,
            cx.policy.min_admins,
            invited,
            &before,
            &after,
        ));
    }
    out.extend(delete_limits(changes, cx));
    out.extend(source_shrink(changes, cx));
    out
}

/// A source that answers an empty or much smaller group by mistake (an outage, a
/// permission lost, a filter gone wrong) would otherwise remove everyone it stops
/// listing. Each followed source group is held to its size at the last apply, and each
/// group that follows source groups to its live members on every target.
fn source_shrink(changes: &[Change], cx: &Context<'_>) -> Vec<Refusal> {
    let Some(sources) = cx.sources else {
        return Vec::new();
    };
    let allowed = |names: &[&str]| {
        cx.allow_shrink.contains("*")
            || names
                .iter()
                .any(|n| cx.allow_shrink.iter().any(|a| a.eq_ignore_ascii_case(n)))
    };
    let limit = u64::from(sources.policy.max_shrink_percent);
    let min = sources.policy.min_members;
    let past_limit = |left: usize, of: usize| of >= min && of > 0 && (left as u64) * 100 > limit * (of as u64);
    let percent = |left: usize, of: usize| (left as u64 * 100).div_ceil(of.max(1) as u64);
    let hint = |name: &str| {
        Some(format!(
            "check the source first: an outage or a lost permission can answer a group short. If the change is real, run again with `--allow-source-shrink {name}`"
        ))
    };
    let mut out = Vec::new();
    for (label, size) in &sources.groups {
        let Some(before) = size.before else { continue };
        // By the source group's name, or by a manifest group that follows it.
        let mut names = vec![label.as_str()];
        names.extend(
            sources
                .followed
                .iter()
                .filter(|(_, feeds)| feeds.contains(label))
                .map(|(group, _)| group.as_str()),
        );
        if allowed(&names) {
            continue;
        }
        if size.now == 0 && before > 0 {
            out.push(Refusal {
                rule: Rule::SourceShrink,
                message: format!("source group {label} came back empty; it gave {before} people at the last apply"),
                hint: hint(label),
            });
        } else if past_limit(before.saturating_sub(size.now), before) {
            out.push(Refusal {
                rule: Rule::SourceShrink,
                message: format!(
                    "source group {label} gives {} people, {before} at the last apply: {}% fewer, past policy.sources.max_shrink_percent ({limit}%)",
                    size.now,
                    percent(before - size.now, before)
                ),
                hint: hint(label),
            });
        }
    }
    // Live members and removed memberships per target and group (lower-cased), counted
    // once: scanning every object and change for each followed group was quadratic.
    let group_of = |id: &ResourceId| match id {
        ResourceId::Membership { group, .. } => Some(group.as_str().to_lowercase()),
        _ => None,
    };
    let mut live_members: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (target, live) in cx.live {
        for group in live.keys().filter_map(|a| group_of(&a.id)) {
            *live_members.entry((target.as_str(), group)).or_default() += 1;
        }
    }
    let mut removed: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.action == Action::Delete) {
        if let Some(group) = group_of(&c.address.id) {
            *removed.entry((c.address.target.as_str(), group)).or_default() += 1;
        }
    }
    for (group, feeds) in &sources.followed {
        let names: Vec<&str> = std::iter::once(group.as_str())
            .chain(feeds.iter().map(String::as_str))
            .collect();
        if allowed(&names) {
            continue;
        }
        for target in cx.live.keys() {
            let key = (target.as_str(), group.to_lowercase());
            let members = live_members.get(&key).copied().unwrap_or_default();
            let leaving = removed.get(&key).copied().unwrap_or_default();
            if members == 0 || leaving == 0 {
                continue;
            }
            let empty = feeds.iter().all(|f| sources.groups.get(f).is_some_and(|g| g.now == 0));
            if empty {
                out.push(Refusal {
                    rule: Rule::SourceShrink,
                    message: format!(
                        "{} came back empty: group `{group}` on {target} would lose {leaving} of its {members} members",
                        feeds.join(" and ")
                    ),
                    hint: hint(group),
                });
            } else if past_limit(leaving, members) {
                out.push(Refusal {
                    rule: Rule::SourceShrink,
                    message: format!(
                        "group `{group}` on {target} would lose {leaving} of its {members} members ({}%), past policy.sources.max_shrink_percent ({limit}%); it follows {}",
                        percent(leaving, members),
                        feeds.join(" and ")
                    ),
                    hint: hint(group),
                });
            }
        }
    }
    out
}

fn protected(changes: &[Change], policy: &Policy) -> Vec<Refusal> {
    let protect: BTreeSet<String> = policy.protect.iter().map(|n| n.to_lowercase()).collect();
    changes
        .iter()
        .filter_map(|c| {
            let renamed = c.renamed_from.iter().map(|old| match &c.address.id {
                ResourceId::User { .. } => Principal::User(old.as_str().into()),
                _ => Principal::Group(old.as_str().into()),
            });
            let touched = c
                .address
                .id
                .as_principal()
                .into_iter()
                .chain(c.address.id.principals())
                .chain(renamed);
            let hit = touched
                .map(|p| p.name().to_owned())
                .find(|n| protect.contains(&n.to_lowercase()))?;
            // A member leaving a protected group (offboarded, or pruned) cannot be
            // declared away: declaring the group as it is live keeps asking for the
            // removal. Only a hand edit, or lifting the protection, resolves it.
            let hint = match &c.address.id {
                ResourceId::Membership { group, user } if c.action == Action::Delete && *group == hit => Some(format!(
                    "rollcall never changes the members of protected group `{group}`, not even to offboard someone: remove `{user}` from `{group}` on the target by hand, or take `{group}` out of policy.protect"
                )),
                _ => None,
            };
            Some(Refusal {
                rule: Rule::Protected,
                message: format!(
                    "{} {} touches `{hit}`, which policy.protect lists",
                    verb(c.action),
                    c.address
                ),
                hint,
            })
        })
        .collect()
}

/// An account found under a declared username whose externalId names someone else was
/// provisioned by another client (or for another person): rewriting it to the manifest's
/// person would take it over silently.
fn foreign_accounts(changes: &[Change]) -> Vec<Refusal> {
    changes
        .iter()
        .filter_map(|c| {
            let (Some(Resource::User(before)), Some(Resource::User(after))) = (&c.before, &c.after) else {
                return None;
            };
            let (Some(theirs), Some(ours)) = (&before.external_id, &after.external_id) else {
                return None;
            };
            // A rollcall name whose case was corrected is still the same person.
            (!theirs.eq_ignore_ascii_case(ours)).then(|| Refusal {
                rule: Rule::ForeignAccount,
                message: format!(
                    "{} belongs to another account (externalId `{theirs}`, not `{ours}`); the plan would take it over",
                    c.address
                ),
                hint: None,
            })
        })
        .collect()
}

fn own_account(
    platform: Platform,
    target: &str,
    account: &str,
    changes: &[&Change],
    before: &Overlay<'_>,
    after: &Overlay<'_>,
) -> Vec<Refusal> {
    let me = account.to_lowercase();
    let mut out = Vec::new();
    for c in changes {
        if c.removes() && matches!(&c.address.id, ResourceId::User { name } if name.to_lowercase() == me) {
            out.push(Refusal {
                rule: Rule::OwnAccount,
                message: format!(
                    "{} {} `{account}`, the account rollcall works as",
                    c.address,
                    if c.action == Action::Delete {
                        "deletes"
                    } else {
                        "deactivates"
                    }
                ),
                hint: None,
            });
        }
    }
    let (was, will) = (root_rank(platform, before, &me), root_rank(platform, after, &me));
    if out.is_empty() && will < was {
        out.push(Refusal {
            rule: Rule::OwnAccount,
            message: format!(
                "the plan lowers the global permission of `{account}`, the account rollcall works as on `{target}`, from {} to {}",
                platform.root_level(was),
                platform.root_level(will)
            ),
            hint: None,
        });
    }
    out
}

/// Changes to kinds the platform does not let rollcall change: the manifest asks for
/// something that can only fail, or belongs to someone else.
fn read_only(platform: Platform, changes: &[&Change]) -> Vec<Refusal> {
    changes
        .iter()
        .filter(|c| platform.rules(c.address.id.kind()).read_only)
        .map(|c| Refusal {
            rule: Rule::ReadOnly,
            message: format!(
                "{} {}: {} on a {} target are read-only",
                verb(c.action),
                c.address,
                c.address.id.kind().as_str(),
                platform.label()
            ),
            hint: Some(
                "declare them as they are live, or leave them undeclared with their kind's pruning off".to_owned(),
            ),
        })
        .collect()
}

fn min_admins(
    platform: Platform,
    target: &str,
    min: usize,
    invited: Option<&BTreeSet<String>>,
    before: &Overlay<'_>,
    after: &Overlay<'_>,
) -> Option<Refusal> {
    // Someone only invited is no administrator yet, whatever role the invitation carries.
    let count = |state| {
        admins(platform, state)
            .iter()
            .filter(|u| !invited.is_some_and(|i| i.contains(u.as_str())))
            .count()
    };
    let (was, will) = (count(before), count(after));
    (will < min && will < was).then(|| Refusal {
        rule: Rule::MinAdmins,
        message: format!(
            "the plan leaves {will} user{} with {} on `{target}` (now {was}); policy.min_admins is {min}",
            if will == 1 { "" } else { "s" },
            platform.admin_names()
        ),
        hint: None,
    })
}

fn delete_limits(changes: &[Change], cx: &Context<'_>) -> Vec<Refusal> {
    // A deactivation takes access away like a delete, so it counts as one.
    let deletes = changes.iter().filter(|c| c.removes()).count();
    if cx.allow_deletes.is_some_and(|n| deletes <= n) {
        return Vec::new();
    }
    let waiver = match cx.allow_deletes {
        Some(n) => format!(" (--allow-deletes {n} admits at most {n})"),
        None => String::new(),
    };
    let mut out = Vec::new();
    let limits = cx.policy.limits;
    if let Some(max) = limits.max_deletes.filter(|&m| deletes > m) {
        out.push(Refusal {
            rule: Rule::MaxDeletes,
            message: format!("the plan deletes {deletes} objects; policy.limits.max_deletes is {max}{waiver}"),
            hint: None,
        });
    }
    let mut per_kind: BTreeMap<(&str, Kind), usize> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.removes()) {
        *per_kind
            .entry((c.address.target.as_str(), c.address.id.kind()))
            .or_default() += 1;
    }
    for ((target, kind), n) in per_kind {
        let existing = cx.existing.get(target).and_then(|k| k.get(&kind)).copied().unwrap_or(0);
        let pct = u64::from(limits.max_delete_percent);
        if existing >= limits.min_existing && (n as u64) * 100 > pct * existing as u64 {
            out.push(Refusal {
                rule: Rule::MaxDeletePercent,
                message: format!(
                    "the plan deletes {n} of {existing} {} on `{target}` ({}%); policy.limits.max_delete_percent is {pct}{waiver}",
                    kind.as_str(),
                    percent(n, existing)
                ),
                hint: None,
            });
        }
    }
    out
}

/// Live state after the changes, and what goes along without a change of its own: the
/// server removes a deleted user's or group's memberships and grants with it, whether or
/// not the plan lists them (it lists only those it read).
fn project<'a>(before: &Overlay<'a>, changes: &[&Change]) -> (Overlay<'a>, Vec<(Address, Address)>) {
    let mut state = before.clone();
    let mut deleted: BTreeMap<(bool, String), &Address> = BTreeMap::new();
    for c in changes {
        match (&c.after, c.action) {
            (Some(r), Action::Create | Action::Update) => {
                state.insert(c.address.clone(), r.clone());
            }
            _ => {
                state.remove(&c.address);
                if let Some(p) = c.address.id.as_principal() {
                    deleted.insert(principal_key(&p), &c.address);
                }
            }
        }
    }
    let mut cascade = Vec::new();
    for address in state.keys().filter(|_| !deleted.is_empty()) {
        let cause = address
            .id
            .principals()
            .iter()
            .find_map(|p| deleted.get(&principal_key(p)).copied());
        if let Some(cause) = cause {
            cascade.push((cause.clone(), address.clone()));
        }
    }
    for (_, address) in &cascade {
        state.remove(address);
    }
    (state, cascade)
}

/// A principal without regard to case: (is a group, lower-cased name).
fn principal_key(p: &Principal) -> (bool, String) {
    match p {
        Principal::User(n) => (false, n.as_str().to_lowercase()),
        Principal::Group(n) => (true, n.as_str().to_lowercase()),
    }
}

/// Deleting a principal must not take along what a protected one holds or belongs to.
fn protected_in_cascade(cascade: &[(Address, Address)], policy: &Policy) -> Vec<Refusal> {
    let protect: BTreeSet<String> = policy.protect.iter().map(|n| n.to_lowercase()).collect();
    cascade
        .iter()
        // A protected principal deleted outright is refused by its own change already.
        .filter(|(cause, _)| {
            let own = cause.id.as_principal();
            !own.is_some_and(|p| protect.contains(&p.name().to_lowercase()))
        })
        .filter_map(|(cause, removed)| {
            let hit = removed
                .id
                .principals()
                .into_iter()
                .map(|p| p.name().to_owned())
                .find(|n| protect.contains(&n.to_lowercase()))?;
            Some(Refusal {
                rule: Rule::Protected,
                message: format!(
                    "deleting {cause} also removes {removed}, which touches `{hit}`, which policy.protect lists"
                ),
                hint: None,
            })
        })
        .collect()
}

/// A user's rank at the root scope: the highest of their own grant and their groups'
/// grants, as the platform ranks its permissions (0 for none).
fn root_rank(platform: Platform, state: &Overlay<'_>, user: &str) -> usize {
    let groups: BTreeSet<String> = state
        .keys()
        .filter_map(|a| match &a.id {
            ResourceId::Membership { group, user: u } if u.to_lowercase() == user => {
                Some(group.as_str().to_lowercase())
            }
            _ => None,
        })
        .collect();
    state
        .iter()
        .filter_map(|(a, r)| match (&a.id, r) {
            (ResourceId::Grant { scope, principal }, Resource::Permission { permission }) if scope.is_root() => {
                let holds = match principal {
                    Principal::User(u) => u.to_lowercase() == user,
                    Principal::Group(g) => groups.contains(g.to_lowercase().as_str()),
                };
                holds.then(|| platform.root_rank(permission))
            }
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Users the platform counts as administrators, directly or through a group (lower-cased).
fn admins(platform: Platform, state: &Overlay<'_>) -> BTreeSet<String> {
    let mut users = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for (a, r) in state.iter() {
        if let (ResourceId::Grant { scope, principal }, Resource::Permission { permission }) = (&a.id, r) {
            if platform.is_admin(scope, permission) {
                match principal {
                    Principal::User(u) => users.insert(u.as_str().to_lowercase()),
                    Principal::Group(g) => groups.insert(g.as_str().to_lowercase()),
                };
            }
        }
    }
    for a in state.keys() {
        if let ResourceId::Membership { group, user } = &a.id {
            if groups.contains(group.to_lowercase().as_str()) {
                users.insert(user.as_str().to_lowercase());
            }
        }
    }
    users
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "changing",
        Action::Delete => "deleting",
    }
}

fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        return "100".to_owned();
    }
    let tenths = (n as u64 * 1000 + of as u64 / 2) / of as u64;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// `policy.protect` entries that the manifests declare no person or group for and that
/// name no user or group live on any target, each with the nearest live or declared name:
/// a misspelt entry would protect nothing, silently.
pub fn unknown_protected(
    desired: &crate::desired::Desired,
    live: &BTreeMap<String, ResourceMap>,
) -> Vec<(String, Option<String>)> {
    let known: BTreeSet<String> = live
        .values()
        .chain(std::iter::once(&desired.resources))
        .flat_map(|state| state.keys())
        .filter_map(|a| a.id.as_principal().map(|p| p.name().to_owned()))
        .collect();
    let lower: BTreeSet<String> = known.iter().map(|n| n.to_lowercase()).collect();
    desired
        .protect_undeclared
        .iter()
        .filter(|n| !lower.contains(&n.to_lowercase()))
        .map(|n| (n.clone(), crate::resolve::did_you_mean(n, known.iter()).cloned()))
        .collect()
}

#[cfg(test)]
mod tests;
