//! One person's effective access on one target: for every resource, the highest level
//! anything gives them there, and every grant, default or membership that gives it.
//!
//! The rules are the platform's data: a grant holds on the scopes inside its own where
//! the platform's grants are `inherited`; an "everyone" default counts for every active
//! person; a root permission the platform lists as `admin` makes its holder an
//! administrator of every scope; and on a platform without grants, access is the account
//! and the groups one is in.

use std::collections::{BTreeMap, BTreeSet};

use super::state::State;
use super::Reason;
use crate::model::{Name, Principal, Scope};

/// A resource of a target, as access is reported on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Res {
    /// Having an active account, on a platform where that is the access.
    Account,
    /// A scope grants are made on (the root included).
    Scope(Scope),
    /// A group, on a platform where membership is the access (by lower-cased name).
    Group(Name),
}

/// The level one holds on a resource, with what gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// `read` 0, `write` 1, `admin` 2: comparable across a platform's scopes; 0 for a
    /// membership or an account.
    pub rank: usize,
    pub reasons: BTreeSet<Reason>,
}

/// The words of the ranks, as the portable role words name them.
pub const LEVELS: [&str; 3] = ["read", "write", "admin"];

/// The level's word on a resource: `member` of a group where access is membership,
/// `active` for an account.
pub fn level_word(res: &Res, rank: usize) -> &'static str {
    match res {
        Res::Scope(_) => LEVELS.get(rank).copied().unwrap_or("admin"),
        Res::Group(_) => "member",
        Res::Account => "active",
    }
}

/// Everything `who` (a lower-cased name) can do on the target, on the scopes in `scopes`
/// (pass every scope of interest: those grants and defaults name, at least); nothing for
/// someone unknown or inactive. The work is in the person's grants and the scopes asked
/// about, so asking about a few scopes of many is cheap.
pub fn person(state: &State, who: &Name, asked: &Asked<'_>) -> BTreeMap<Res, Cell> {
    let scopes = asked.scopes;
    let mut out = BTreeMap::new();
    if state.people.get(who).is_none_or(|p| p.inactive) {
        return out;
    }
    let groups = state.groups_of.get(who);
    if !state.platform.has_grants() {
        // An account made elsewhere (an Atlassian account in an organization's
        // directory) is no access of this target's: only its groups are.
        if !state.platform.users().external {
            offer(&mut out, Res::Account, 0, reason("active account", None));
        }
        for g in groups.into_iter().flatten() {
            offer(&mut out, Res::Group(g.clone()), 0, reason("member", None));
        }
        return out;
    }
    let around = &asked.around;
    let holders = std::iter::once(Principal::User(who.clone()))
        .chain(groups.into_iter().flatten().map(|g| Principal::Group(g.clone())));
    for holder in holders {
        let Some(grants) = state.grants.get(&holder) else {
            continue;
        };
        let via = match &holder {
            Principal::User(_) => None,
            Principal::Group(g) => Some(state.groups.get(g).cloned().unwrap_or_else(|| g.to_string())),
        };
        match around {
            Some(around) if around.len() < grants.len() => {
                for scope in around {
                    if let Some(native) = grants.get(scope) {
                        grant(state, &mut out, scopes, scope, native, via.as_deref());
                    }
                }
            }
            _ => {
                for (scope, native) in grants {
                    grant(state, &mut out, scopes, scope, native, via.as_deref());
                }
            }
        }
    }
    let defaults: Vec<(&Scope, &String)> = match around {
        Some(around) if around.len() < state.defaults.len() => {
            around.iter().filter_map(|s| state.defaults.get_key_value(s)).collect()
        }
        _ => state.defaults.iter().collect(),
    };
    for (scope, native) in defaults {
        let Some(rank) = state
            .platform
            .default_roles(&scope.kinds())
            .and_then(|r| r.level(native))
        else {
            continue;
        };
        if scopes.contains(scope) {
            let here = reason(&format!("{native} for all users"), None);
            offer(&mut out, Res::Scope(scope.clone()), rank, here);
        }
        if state.platform.spec().inherited {
            let mut inner = inside(scopes, scope).peekable();
            if inner.peek().is_some() {
                let text = format!("{native} for all users on {}", place(state, scope));
                for s in inner {
                    offer(&mut out, Res::Scope(s.clone()), rank, reason(&text, None));
                }
            }
        }
    }
    out
}

/// The most scopes asked about for which grants are looked up around each, rather than
/// every grant of a person scanned.
const AROUND_MAX: usize = 64;

/// The scopes access is asked about, made once for everyone it is asked for.
pub struct Asked<'a> {
    pub scopes: &'a BTreeSet<Scope>,
    /// Asked about a few scopes (a plan's effect asks about one project), the grants that
    /// can reach them are those on them and around them: looked up, not scanned for.
    around: Option<BTreeSet<Scope>>,
}

impl<'a> Asked<'a> {
    /// Every scope of interest: those grants and defaults name, at least.
    pub fn new(state: &State, scopes: &'a BTreeSet<Scope>) -> Asked<'a> {
        let inherited = state.platform.spec().inherited;
        Asked {
            scopes,
            around: (scopes.len() <= AROUND_MAX).then(|| around(scopes, inherited)),
        }
    }
}

/// The scopes a grant or default can reach `scopes` from: each of them, the root (whose
/// administrators administer everything), and where grants are inherited, every scope
/// that encloses one.
fn around(scopes: &BTreeSet<Scope>, inherited: bool) -> BTreeSet<Scope> {
    let mut out = BTreeSet::from([Scope::root()]);
    for scope in scopes {
        let segments = scope.segments();
        let from = if inherited { 1 } else { segments.len() };
        for depth in from..=segments.len() {
            out.insert(
                segments[..depth]
                    .iter()
                    .fold(Scope::root(), |s, seg| s.child(&seg.kind, &seg.name)),
            );
        }
    }
    out
}

/// Whether `who` (a lower-cased name) is an active administrator: a root permission the
/// platform lists as administering everything, held directly or through a group.
pub fn administers(state: &State, who: &Name) -> bool {
    state.people.get(who).is_some_and(|p| !p.inactive)
        && root_permissions(state, who).any(|native| state.platform.is_admin(&Scope::root(), native))
}

/// The permissions `who` holds at the root, directly and through their groups.
fn root_permissions<'a>(state: &'a State, who: &'a Name) -> impl Iterator<Item = &'a String> + 'a {
    let root = Scope::root();
    std::iter::once(Principal::User(who.clone()))
        .chain(
            state
                .groups_of
                .get(who)
                .into_iter()
                .flatten()
                .map(|g| Principal::Group(g.clone())),
        )
        .filter_map(move |holder| state.grants.get(&holder).and_then(|g| g.get(&root)))
}

/// Whether a grant of `native` (or a default: `None`) on `from` can give access on `to`:
/// it is there, or `to` is inside and grants are inherited, or it makes an administrator.
pub fn reaches(platform: crate::platform::Platform, from: &Scope, native: Option<&str>, to: &Scope) -> bool {
    let inside =
        to.segments().len() > from.segments().len() && to.segments()[..from.segments().len()] == *from.segments();
    from == to
        || (inside && platform.spec().inherited && !from.is_root())
        || (!to.is_root() && native.is_some_and(|n| platform.is_admin(from, n)))
}

/// What one grant gives: its level on its scope, on the scopes inside where grants are
/// inherited, and administration of every scope for a root permission that makes an
/// administrator.
fn grant(
    state: &State,
    out: &mut BTreeMap<Res, Cell>,
    scopes: &BTreeSet<Scope>,
    scope: &Scope,
    native: &str,
    via: Option<&str>,
) {
    let platform = state.platform;
    if platform.is_admin(scope, native) {
        let mut inner = scopes.iter().filter(|s| !s.is_root()).peekable();
        if inner.peek().is_some() {
            let text = format!("{native} on {}", place(state, scope));
            for s in inner {
                offer(out, Res::Scope(s.clone()), LEVELS.len() - 1, reason(&text, via));
            }
        }
    }
    // Most of a person's grants are outside the scopes asked about (a plan's effect asks
    // about one project): those cost a lookup, nothing more.
    let here = scopes.contains(scope);
    // The root is no scope of content: a licence or the right to create projects is
    // not access to what is inside.
    let inherits = platform.spec().inherited && !scope.is_root();
    let mut inner = inside(scopes, scope).filter(|_| inherits).peekable();
    if !here && inner.peek().is_none() {
        return;
    }
    let Some(rank) = platform.scope_roles(&scope.kinds()).and_then(|r| r.level(native)) else {
        return;
    };
    if here {
        offer(out, Res::Scope(scope.clone()), rank, reason(native, via));
    }
    if inner.peek().is_some() {
        let text = format!("{native} on {}", place(state, scope));
        for s in inner {
            offer(out, Res::Scope(s.clone()), rank, reason(&text, via));
        }
    }
}

/// The scopes strictly inside `outer`: a scope's path sorts right after its own, before
/// the next scope beside it.
fn inside<'a>(scopes: &'a BTreeSet<Scope>, outer: &'a Scope) -> impl Iterator<Item = &'a Scope> {
    let depth = outer.segments().len();
    scopes
        .range(outer..)
        .skip_while(move |s| *s == outer)
        .take_while(move |s| s.segments().len() > depth && s.segments()[..depth] == *outer.segments())
}

/// How a reason names a scope: `project API`, `global permissions`.
pub fn place(state: &State, scope: &Scope) -> String {
    let noun = state.platform.scope_roles(&scope.kinds()).map_or("scope", |r| r.noun);
    if scope.is_root() {
        noun.to_owned()
    } else {
        format!("{noun} {}", path(scope))
    }
}

/// A scope's names from the root: `API/payments`.
pub fn path(scope: &Scope) -> String {
    let names: Vec<&str> = scope.segments().iter().map(|s| s.name.as_str()).collect();
    names.join("/")
}

fn reason(grant: &str, via: Option<&str>) -> Reason {
    Reason {
        grant: grant.to_owned(),
        via: via.map(str::to_owned),
    }
}

/// Counts a reason for a level on a resource: the highest level wins, and every reason
/// for it is kept.
fn offer(out: &mut BTreeMap<Res, Cell>, res: Res, rank: usize, why: Reason) {
    let cell = out.entry(res).or_insert_with(|| Cell {
        rank,
        reasons: BTreeSet::new(),
    });
    if rank > cell.rank {
        cell.rank = rank;
        cell.reasons.clear();
    }
    if rank == cell.rank {
        cell.reasons.insert(why);
    }
}

/// The resource's name and noun, as reports give them.
pub fn describe(state: &State, res: &Res) -> (String, String) {
    match res {
        Res::Scope(scope) => {
            let roles = state.platform.scope_roles(&scope.kinds());
            let name = if scope.is_root() {
                roles
                    .map_or("global", |r| if r.key.is_empty() { "global" } else { r.key })
                    .to_owned()
            } else {
                path(scope)
            };
            (name, roles.map_or("scope", |r| r.noun).to_owned())
        }
        Res::Group(g) => (
            state.groups.get(g).cloned().unwrap_or_else(|| g.to_string()),
            "group".to_owned(),
        ),
        Res::Account => ("account".to_owned(), "account".to_owned()),
    }
}

/// The root's key (`global` on Bitbucket Data Center, `organization` on Buildkite): how a
/// path names the root, where the platform grants on it.
pub fn root_key(platform: crate::platform::Platform) -> Option<&'static str> {
    platform.scope_roles(&[]).map(|r| r.key).filter(|k| !k.is_empty())
}

/// The scope a path of names means on a platform (`API/payments`): each name is a
/// segment of the first kind that can follow the ones before; the root's key is the
/// root. `None` for a path deeper than the platform's scopes.
pub fn scope_named(platform: crate::platform::Platform, path: &str) -> Option<Scope> {
    if path.is_empty() || Some(path) == root_key(platform) {
        return Some(Scope::root());
    }
    let mut scope = Scope::root();
    for name in path.split('/') {
        let kinds = scope.kinds();
        let kind = platform.children(&kinds).next()?.kind;
        scope = scope.child(kind, name);
    }
    Some(scope)
}
