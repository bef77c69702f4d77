//! What a plan does to people: effective access before it (live state) and after it
//! (live state with its changes made), compared person by person, and the changes that
//! alter nobody's access.
//!
//! Only people a change can reach are worked out: the user a change names, a group's
//! members, everyone for an "everyone" default. A line on a scope inside another is left
//! out when the outer scope's line already says it (a new project grant is one line, not
//! one per repository).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::compute::{self, level_word, Cell, Res};
use super::state::{self, keyed, State};
use super::{Reason, TargetRef};
use crate::model::{Address, Name, Principal, ResourceId, ResourceMap, Scope};
use crate::plan::{Action, Change, Note};

/// How one person's access to one resource changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Effect {
    /// The person: the manifest's name for them, else their name on the target.
    pub person: String,
    /// Their username on the target, where it is not `person`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub target: String,
    /// As `rollcall access --on` names it after `TARGET:`.
    pub resource: String,
    /// What the resource is: `project`, `repository`, `group`.
    pub noun: String,
    /// The level before and after; `None` for no access.
    pub before: Option<String>,
    pub after: Option<String>,
    /// What gives the new level, or for a loss or a fall what gave the old one.
    pub reasons: Vec<Reason>,
}

impl Effect {
    /// `+` gains access, `-` loses it, `~` changes level.
    pub fn sign(&self) -> char {
        match (&self.before, &self.after) {
            (None, _) => '+',
            (_, None) => '-',
            _ => '~',
        }
    }

    /// Loses access, or keeps less of it: its reasons are what gave the old level.
    pub fn falls(&self) -> bool {
        let rank = |l: &Option<String>| {
            l.as_deref()
                .map(|l| compute::LEVELS.iter().position(|w| *w == l).unwrap_or(0))
        };
        match (&self.before, &self.after) {
            (_, None) => true,
            (Some(_), Some(_)) => rank(&self.after) < rank(&self.before),
            (None, Some(_)) => false,
        }
    }
}

/// The effect of `changes` on live state, and a note for each grant, default or
/// membership change that alters nobody's access, given the rest of the plan, except
/// those at `unnoted` (said otherwise already, or an offboarding's).
pub fn of_plan(
    targets: &[TargetRef<'_>],
    live: &BTreeMap<String, ResourceMap>,
    changes: &[Change],
    unnoted: &BTreeSet<Address>,
) -> (Vec<Effect>, Vec<Note>) {
    let mut effects = Vec::new();
    let mut notes = Vec::new();
    // A membership or grant that goes with its user or group is part of that deletion
    // (or of a group's replacement by a renamed one), not a change that could miss its
    // mark: judged alone, with the principal's other removals made, it would seem to.
    let deleted: BTreeSet<(&str, Principal)> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter_map(|c| Some((c.address.target.as_str(), keyed(&c.address.id.as_principal()?))))
        .collect();
    for t in targets {
        let mut before = t.state(live);
        let mine: Vec<&Change> = changes.iter().filter(|c| before.concerns(&c.address)).collect();
        if mine.is_empty() {
            continue;
        }
        // A rename in place keeps the account or group: the people before are named
        // as they will be, so a rename is no loss for one name and gain for another.
        for c in &mine {
            before.rename(c);
        }
        let mut after = before.clone();
        for c in &mine {
            after.change(c);
            // Where creating someone only invites them (`created_as`), they hold nothing
            // until they accept, whatever the plan gives them.
            if let (ResourceId::User { name }, Action::Create, Some(_)) =
                (&c.address.id, c.action, t.platform.users().created_as)
            {
                if c.address.target == t.name {
                    after.invited(name);
                }
            }
        }
        if let Some(names) = t.usernames {
            after.declare(names); // people the plan creates
        }
        // Each person a change reaches, and where it can change their access: a new
        // "all users" default on one project is worked out on that project for
        // everyone, not on every scope.
        let mut people: BTreeMap<Name, Region> = BTreeMap::new();
        for c in &mine {
            let reach = before.affected(&c.address.id);
            let region = region(t.platform, c);
            for who in reach.into_iter().chain(after.affected(&c.address.id)) {
                match people.entry(who) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(region.clone());
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) => widen(o.get_mut(), &region),
                }
            }
        }
        let scopes: BTreeSet<Scope> = before.scopes().union(&after.scopes()).cloned().collect();
        // People reached in the same region are asked about the same scopes.
        let mut by_region: BTreeMap<&Region, Vec<&Name>> = BTreeMap::new();
        for (who, region) in &people {
            by_region.entry(region).or_default().push(who);
        }
        // The scopes with a line, for what the read left out.
        let mut lines = BTreeSet::new();
        for (region, who) in by_region {
            let scopes = within(&scopes, region);
            let asked = compute::Asked::new(&after, &scopes);
            for who in who {
                let was = compute::person(&before, who, &asked);
                let now = compute::person(&after, who, &asked);
                effects.extend(differences(&after, &before, who, &was, &now, &mut lines));
            }
        }
        if let Some(note) = unread(t, targets, &before, &lines) {
            notes.push(note);
        }
        let goes_with_principal = |c: &Change| {
            c.action == Action::Delete
                && c.address.id.as_principal().is_none()
                && c.address.id.principals().iter().any(|p| {
                    std::iter::once(t.name)
                        .chain(t.principals_from)
                        .any(|from| deleted.contains(&(from, keyed(p))))
                })
        };
        for c in mine
            .iter()
            .filter(|c| c.address.target == t.name && !unnoted.contains(&c.address) && !goes_with_principal(c))
        {
            let scopes = within(&scopes, &region(t.platform, c));
            if let Some(note) = no_effect(&mut after, c, &scopes) {
                notes.push(note);
            }
        }
    }
    // Each person's lines stay in scope order (the root first, a scope before those
    // inside it), as `differences` made them.
    effects.sort_by(|a, b| (&a.person, &a.email, &a.target).cmp(&(&b.person, &b.email, &b.target)));
    (effects, notes)
}

/// Where a change can alter someone's access: everywhere (`None`: a membership, a person,
/// an administrator's root permission), or on these scopes and those inside them (a
/// grant or default; the root alone for a root permission, which is no access inside).
type Region = Option<BTreeSet<Scope>>;

fn region(platform: crate::platform::Platform, change: &Change) -> Region {
    let (scope, default) = match &change.address.id {
        ResourceId::Grant { scope, .. } => (scope, false),
        ResourceId::Default { scope } => (scope, true),
        _ => return None,
    };
    let admin = |r: &Option<crate::model::Resource>| matches!(r, Some(crate::model::Resource::Permission { permission }) if platform.is_admin(scope, permission));
    if (scope.is_root() && default) || admin(&change.before) || admin(&change.after) {
        return None;
    }
    Some(BTreeSet::from([scope.clone()]))
}

fn widen(region: &mut Region, more: &Region) {
    match (region.as_mut(), more) {
        (None, _) => {}
        (Some(_), None) => *region = None,
        (Some(scopes), Some(more)) => scopes.extend(more.iter().cloned()),
    }
}

/// The scopes of `scopes` in a region.
fn within<'a>(scopes: &'a BTreeSet<Scope>, region: &Region) -> std::borrow::Cow<'a, BTreeSet<Scope>> {
    let Some(region) = region else {
        return std::borrow::Cow::Borrowed(scopes);
    };
    let mut out = BTreeSet::new();
    for outer in region {
        if outer.is_root() {
            out.extend(scopes.get(outer).cloned());
            continue;
        }
        let depth = outer.segments().len();
        out.extend(
            scopes
                .range(outer..)
                .take_while(|s| s.segments().len() >= depth && s.segments()[..depth] == *outer.segments())
                .cloned(),
        );
    }
    std::borrow::Cow::Owned(out)
}

/// A note on what a target's effect could not count, where it bears on a scope with a
/// line: access through a group that holds grants there but whose members the plan did
/// not read, or through a default it did not read (the manifests neither declare nor
/// prune them, so the plan had no need to, and reads no more than it needs).
fn unread(t: &TargetRef<'_>, targets: &[TargetRef<'_>], state: &State, lines: &BTreeSet<Scope>) -> Option<Note> {
    let read = t.read.filter(|r| !r.everything)?;
    // Lines on the scope or inside it, found by range: a scope's path sorts before those
    // inside it. An administrator's root grant reaches every line.
    let bears = |from: &Scope, native: Option<&str>| {
        (native.is_some_and(|n| t.platform.is_admin(from, n)) && lines.iter().any(|s| !s.is_root()))
            || lines
                .range(from..)
                .take_while(|s| s.segments().starts_with(from.segments()))
                .any(|s| compute::reaches(t.platform, from, native, s))
    };
    // Members are read on the target the groups live on, which says which it left out.
    // A group that target did not list at all (it reads only the groups the manifests
    // declare) is unread too, unless it listed every group.
    let owner = match t.principals_from {
        Some(from) => targets.iter().find(|x| x.name == from),
        None => Some(t),
    };
    let unread: BTreeSet<String> = owner
        .and_then(|o| o.unread_members)
        .into_iter()
        .flatten()
        .map(|g| g.to_lowercase())
        .collect();
    let unread_group = |g: &Name| {
        unread.contains(g.as_str())
            || owner.is_some_and(|o| {
                t.principals_from.is_some()
                    && o.read.is_some_and(|r| !r.everything && !r.all_group_members)
                    && !state.groups.contains_key(g)
            })
    };
    let mut groups = Vec::new();
    for (holder, grants) in &state.grants {
        let Principal::Group(g) = holder else {
            continue;
        };
        if unread_group(g) && grants.iter().any(|(scope, native)| bears(scope, Some(native))) {
            groups.push(format!("`{}`", state.groups.get(g).map_or(g.as_str(), String::as_str)));
        }
    }
    let mut defaults = Vec::new();
    let mut noun = "";
    for scope in read.scopes.difference(&read.defaults) {
        if let Some(roles) = t.platform.default_roles(&scope.kinds()).filter(|_| bears(scope, None)) {
            noun = roles.noun;
            defaults.push(compute::place(state, scope));
        }
    }
    let mut missed = Vec::new();
    if !groups.is_empty() {
        let noun = if groups.len() == 1 { "group" } else { "groups" };
        missed.push(format!("the members of {noun} {}", some(&groups)));
    }
    if !defaults.is_empty() {
        missed.push(format!("the {noun} of {}", some(&defaults)));
    }
    if missed.is_empty() {
        return None;
    }
    Some(Note {
        target: t.name.to_owned(),
        address: None,
        text: format!(
            "the effect on people counts only what the plan read: not {}, which the manifests neither declare nor prune (`rollcall access --live` reads everything)",
            missed.join(", nor ")
        ),
    })
}

/// The first few of a list, then how many more: a note names what it can and counts
/// the rest, so a large organisation's note stays a line.
fn some(items: &[String]) -> String {
    const SHOWN: usize = 5;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
}

/// A note when undoing `change` in the after state leaves everyone's access as it is.
fn no_effect(after: &mut State, change: &Change, scopes: &BTreeSet<Scope>) -> Option<Note> {
    let id = &change.address.id;
    if !matches!(
        id,
        ResourceId::Grant { .. } | ResourceId::Default { .. } | ResourceId::Membership { .. }
    ) {
        return None;
    }
    // A membership's attributes (a maintainer's role) are no access; only adding or
    // removing it is.
    if matches!(id, ResourceId::Membership { .. }) && change.action == Action::Update {
        return None;
    }
    let made = match change.action {
        Action::Delete => None,
        Action::Create | Action::Update => change.after.clone(),
    };
    let reached = after.affected(id);
    let asked = compute::Asked::new(after, scopes);
    // Levels only: a grant equal to another the person holds changes no level, though it
    // adds a reason.
    let levels = |state: &State, p: &Name| -> BTreeMap<Res, usize> {
        compute::person(state, p, &asked)
            .into_iter()
            .map(|(r, c)| (r, c.rank))
            .collect()
    };
    after.set(id, change.before.as_ref());
    let people: Vec<Name> = reached.union(&after.affected(id)).cloned().collect();
    let admins_undone: BTreeSet<&Name> = people.iter().filter(|p| compute::administers(after, p)).collect();
    let undone: BTreeMap<&Name, _> = people.iter().map(|p| (p, levels(after, p))).collect();
    after.set(id, made.as_ref());
    // An administrator holds everything either way: access declared for one is not
    // pointless (it outlasts the role), so they are no evidence that a change does
    // nothing. Nor is an offboarded person, from whom taking everything is the point.
    let judged: Vec<&Name> = people
        .iter()
        .filter(|p| !(admins_undone.contains(p) && compute::administers(after, p)))
        .filter(|p| after.people.get(*p).is_some_and(|x| !x.inactive))
        .collect();
    if !people.is_empty() && judged.is_empty() {
        return None;
    }
    if judged.iter().any(|p| undone.get(p) != Some(&levels(after, p))) {
        return None;
    }
    let text = if people.is_empty() {
        match id {
            ResourceId::Grant {
                principal: crate::model::Principal::Group(g),
                ..
            } => format!("no effect on anyone's access yet: group `{g}` has no members"),
            _ => "no effect on anyone's access: it reaches nobody active".to_owned(),
        }
    } else if matches!(id, ResourceId::Membership { .. }) {
        "no effect on anyone's access: the group grants nothing the person does not already hold".to_owned()
    } else {
        "no effect on anyone's access: everyone it reaches holds as much or more through other grants".to_owned()
    };
    Some(Note {
        target: change.address.target.to_string(),
        address: Some(change.address.clone()),
        text,
    })
}

/// The lines of one person's access that differ, without those on a scope inside
/// another whose own line already explains them.
fn differences(
    after: &State,
    before: &State,
    who: &Name,
    was: &BTreeMap<Res, Cell>,
    now: &BTreeMap<Res, Cell>,
    lines: &mut BTreeSet<Scope>,
) -> Vec<Effect> {
    let keys: BTreeSet<&Res> = was.keys().chain(now.keys()).collect();
    let mut changed: BTreeMap<&Res, (Option<&Cell>, Option<&Cell>)> = BTreeMap::new();
    for res in keys {
        let (a, b) = (was.get(res), now.get(res));
        if a.map(|c| c.rank) != b.map(|c| c.rank) {
            changed.insert(res, (a, b));
        }
    }
    let person = after.people.get(who).or_else(|| before.people.get(who));
    let mut out = Vec::new();
    for (res, (a, b)) in &changed {
        if explained(after, res, a, b, &changed) {
            continue;
        }
        if let Res::Scope(s) = res {
            lines.insert(s.clone());
        }
        let deciding = deciding(*a, *b);
        // A group the plan deletes is named as it was.
        let named = if b.is_none() { before } else { after };
        let (resource, noun) = compute::describe(named, res);
        out.push(Effect {
            person: person.map_or_else(|| who.to_string(), |p| p.shown().to_owned()),
            account: person.and_then(state::Person::account),
            email: person.and_then(|p| p.email.clone()),
            target: after.target.clone(),
            resource,
            noun,
            before: a.map(|c| level_word(res, c.rank).to_owned()),
            after: b.map(|c| level_word(res, c.rank).to_owned()),
            reasons: deciding
                .map(|c| c.reasons.iter().cloned().collect())
                .unwrap_or_default(),
        });
    }
    out
}

/// The cell whose reasons explain a change: the new one where access rises or starts,
/// the old one where it falls or ends.
fn deciding<'a>(a: Option<&'a Cell>, b: Option<&'a Cell>) -> Option<&'a Cell> {
    match (a, b) {
        (Some(a), Some(b)) if a.rank > b.rank => Some(a),
        (_, Some(b)) => Some(b),
        (a, None) => a,
    }
}

/// Whether a scope's line says no more than an enclosing scope's line: the enclosing
/// scope changed too, and what decides the change here all comes from there.
fn explained(
    state: &State,
    res: &Res,
    a: &Option<&Cell>,
    b: &Option<&Cell>,
    changed: &BTreeMap<&Res, (Option<&Cell>, Option<&Cell>)>,
) -> bool {
    let Res::Scope(scope) = res else {
        return false;
    };
    let Some(mine) = deciding(*a, *b) else {
        return false;
    };
    let segments = scope.segments();
    (0..segments.len()).any(|depth| {
        let mut outer = Scope::root();
        for s in &segments[..depth] {
            outer = outer.child(&s.kind, &s.name);
        }
        let Some((oa, ob)) = changed.get(&Res::Scope(outer.clone())) else {
            return false;
        };
        let Some(theirs) = deciding(*oa, *ob) else {
            return false;
        };
        // The same levels before and after, not only the same direction: a repository
        // that keeps write when its project's admin goes has its own line.
        let rank = |c: &Option<&Cell>| c.map(|c| c.rank);
        let place = compute::place(state, &outer);
        (rank(a), rank(b)) == (rank(oa), rank(ob))
            && mine.reasons.iter().all(|r| comes_from(r, &theirs.reasons, &place))
    })
}

/// A reason on an inner scope is one of the outer scope's reasons as named from inside:
/// `PROJECT_WRITE` on project API is `PROJECT_WRITE on project API` on its repositories.
fn comes_from(inner: &Reason, outer: &BTreeSet<Reason>, place: &str) -> bool {
    outer
        .iter()
        .any(|o| o.via == inner.via && inner.grant == format!("{} on {place}", o.grant))
}
