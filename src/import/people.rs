//! People: live accounts joined across targets by email (without regard to case) into
//! one declared user each, with per-target `ids` where usernames differ, or left as a
//! comment saying why the manifest cannot declare them without changing something.
//!
//! A declaration must plan to nothing, and what a manifest says of a person applies on
//! every target: an active user is created wherever they have no account, an inactive
//! one loses every membership and direct grant, name and email are one value, and on a
//! platform with `externalId` the person's key is it. Accounts that break one of these
//! stay undeclared (unmanaged, since pruning is off) rather than changed.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{Account, Holder};
use super::Context;
use crate::resolve::{is_email, valid_name, NameKind};

/// A person the manifests declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Person {
    pub name: String,
    pub email: String,
    pub active: bool,
    /// Usernames that are not the key (compared without regard to case), by target.
    pub ids: BTreeMap<String, String>,
}

/// Accounts left undeclared, and why.
#[derive(Debug, Clone)]
pub(super) struct Skipped {
    /// The first account's username, to sort and name them by.
    pub label: String,
    pub why: String,
    /// (target, username, account).
    pub accounts: Vec<(String, String, Account)>,
}

#[derive(Debug, Default)]
pub(super) struct People {
    pub declared: BTreeMap<String, Person>,
    pub skipped: Vec<Skipped>,
    /// (target, lower-cased username) to the key of the declared person it is.
    keys: BTreeMap<(String, String), String>,
}

impl People {
    /// The key of the declared person whose account on `target` this username is.
    pub(super) fn key(&self, target: &str, username: &str) -> Option<&str> {
        self.keys
            .get(&(target.to_owned(), username.to_lowercase()))
            .map(String::as_str)
    }
}

/// One account, where it lives.
type AccountRef<'a> = (&'a str, &'a str, &'a Account);

/// A person who could be declared, before the names they need are checked against
/// everyone else's.
struct Candidate<'a> {
    key: String,
    person: Person,
    /// The username the manifest gives them on every target.
    usernames: BTreeMap<String, String>,
    /// Targets where they have no account (inactive people only).
    absent: BTreeSet<String>,
    accounts: Vec<AccountRef<'a>>,
}

pub(super) fn join(cx: &Context<'_>) -> People {
    // Two accounts of one target whose usernames differ only in case cannot be told
    // apart by a manifest, which matches usernames without regard to case.
    let mut spellings: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (target, facts) in &cx.facts {
        for username in facts.accounts.keys() {
            *spellings.entry((target, username.to_lowercase())).or_default() += 1;
        }
    }
    let twin = |target: &str, username: &str| {
        spellings
            .get(&(target, username.to_lowercase()))
            .is_some_and(|n| *n > 1)
    };

    let mut by_email: BTreeMap<String, Vec<AccountRef<'_>>> = BTreeMap::new();
    for (target, facts) in &cx.facts {
        for (username, account) in &facts.accounts {
            let email = account.email.trim().to_lowercase();
            let key = if email.is_empty() || twin(target, username) {
                format!("\u{0}{target}\u{0}{username}")
            } else {
                email
            };
            by_email.entry(key).or_default().push((target, username, account));
        }
    }
    let mut clusters: Vec<Vec<AccountRef<'_>>> = Vec::new();
    for (_, accounts) in by_email {
        // Two accounts with one email on the same target are two people to this target.
        let targets: BTreeSet<&str> = accounts.iter().map(|a| a.0).collect();
        if targets.len() == accounts.len() {
            clusters.push(accounts);
        } else {
            clusters.extend(accounts.into_iter().map(|a| vec![a]));
        }
    }

    let mut people = People::default();
    let mut candidates = Vec::new();
    let holdings = holdings(cx);
    for accounts in clusters {
        let label = accounts.first().map(|a| a.1.to_owned()).unwrap_or_default();
        let twins: Vec<&str> = accounts.iter().filter(|a| twin(a.0, a.1)).map(|a| a.0).collect();
        let evaluated = if let Some(target) = twins.first() {
            Err(format!(
                "another account on `{target}` has the same username but for case, and a manifest matches usernames without regard to case"
            ))
        } else {
            candidate(cx, &holdings, &accounts)
        };
        match evaluated {
            Ok(c) => candidates.push(c),
            Err(why) => people.skipped.push(skipped(label, why, &accounts)),
        }
    }
    candidates.sort_by(|a, b| (&a.key, &a.accounts).cmp(&(&b.key, &b.accounts)));
    claim(cx, candidates, &mut people);
    people
        .skipped
        .sort_by(|a, b| (&a.label, &a.accounts).cmp(&(&b.label, &b.accounts)));
    people
}

fn skipped(label: String, why: String, accounts: &[AccountRef<'_>]) -> Skipped {
    Skipped {
        label,
        why,
        accounts: accounts
            .iter()
            .map(|(t, u, a)| ((*t).to_owned(), (*u).to_owned(), (*a).clone()))
            .collect(),
    }
}

/// `a`, `b` and `c`, each in backticks.
pub(super) fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The declaration these accounts make, or why the manifest cannot make it.
fn candidate<'a>(cx: &Context<'_>, holdings: &Holdings, accounts: &[AccountRef<'a>]) -> Result<Candidate<'a>, String> {
    let flagged: Vec<AccountRef<'a>> = accounts.iter().copied().filter(|(t, _, _)| cx.user_active(t)).collect();
    let inactive: Vec<&str> = flagged.iter().filter(|a| a.2.is_inactive()).map(|a| a.0).collect();
    let active_on: Vec<&str> = flagged.iter().filter(|a| !a.2.is_inactive()).map(|a| a.0).collect();
    if !inactive.is_empty() && !active_on.is_empty() {
        return Err(format!(
            "it is active on {} and inactive on {}, and a manifest says one or the other for every target",
            list(active_on),
            list(inactive)
        ));
    }
    let active = inactive.is_empty();
    let present: BTreeSet<&str> = accounts.iter().map(|a| a.0).collect();
    // A target whose people are made elsewhere creates nobody: a person it lacks (in
    // the directory, not in the workspace) is declared all the same, and plans nothing
    // there unless a grant names them, which import only writes for accounts it has.
    let absent: BTreeSet<String> = cx
        .facts
        .keys()
        .filter(|t| !present.contains(t.as_str()) && !cx.users_external(t))
        .cloned()
        .collect();
    if active && !absent.is_empty() {
        return Err(format!(
            "it has no account on {}, where a declared user would be created",
            list(absent.iter().map(String::as_str))
        ));
    }
    if !active {
        if let Some(why) = holds_access(holdings, accounts) {
            return Err(format!(
                "it is inactive on {}, but {why}, which `active: false` would remove",
                list(inactive)
            ));
        }
    }

    // What the manifest's name and email are compared with: every account where the
    // person is declared as a user (an inactive person is not one where there is no
    // `active` flag).
    // A target that takes its people from another one imported along (a workspace from
    // its directory) never compares the manifest's name with its account's, and found
    // the account by this email under the directory's name for it: the directory's
    // accounts say what the person is.
    // Nor does one whose accounts are the person's own (a Buildkite member's name), and
    // a pending invitation has no name at all: the other targets' accounts say it.
    let managed: Vec<AccountRef<'a>> = accounts
        .iter()
        .copied()
        .filter(|a| !cx.borrows_users(a.0) && !cx.users_fixed(a.0))
        .collect();
    let managed = if managed.is_empty() { accounts.to_vec() } else { managed };
    let compared: Vec<&AccountRef<'a>> = if active {
        managed.iter().collect()
    } else {
        flagged.iter().collect()
    };
    let name = one_value(&compared, "name", |a| &a.display_name)?;
    let email = one_value(&compared, "email", |a| &a.email)?;
    if name.trim().is_empty() {
        return Err("it has no name, and a manifest needs one".to_owned());
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(format!(
            "its name `{name}` has spaces around it or control characters, which a manifest does not keep as they are"
        ));
    }
    if email.trim() != email || !is_email(email) {
        return Err(format!("its email `{email}` is not an address a manifest takes"));
    }

    let key = if flagged.is_empty() {
        most_common_username(&managed)
    } else {
        let missing: Vec<&str> = flagged
            .iter()
            .filter(|a| a.2.external_id.is_none())
            .map(|a| a.0)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "it has no externalId on {}, and declaring it would set one",
                list(missing)
            ));
        }
        let ids: BTreeSet<&str> = flagged.iter().filter_map(|a| a.2.external_id.as_deref()).collect();
        if ids.len() > 1 {
            return Err(format!(
                "its externalIds differ ({}), and a manifest gives a person one",
                list(ids)
            ));
        }
        ids.into_iter().next().unwrap_or_default().to_owned()
    };
    if !valid_name(NameKind::User, &key) {
        return Err(format!("`{key}` is not a name a manifest takes for a person"));
    }
    let mut usernames = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (target, username, _) in accounts {
        if !valid_name(NameKind::User, username) {
            return Err(format!(
                "its username `{username}` on `{target}` is not one a manifest takes"
            ));
        }
        // Where people are found by email, the email is the id: none is written.
        if username.to_lowercase() != key.to_lowercase() && !cx.users_by_email(target) {
            ids.insert((*target).to_owned(), (*username).to_owned());
        }
        usernames.insert((*target).to_owned(), (*username).to_owned());
    }
    for target in &absent {
        usernames.insert(target.clone(), key.clone());
    }
    Ok(Candidate {
        person: Person {
            name: name.to_owned(),
            email: email.to_owned(),
            active,
            ids,
        },
        key,
        usernames,
        absent,
        accounts: accounts.to_vec(),
    })
}

/// The one value every compared account has, or why there is none.
fn one_value<'a>(
    accounts: &[&AccountRef<'a>],
    what: &str,
    value: impl Fn(&'a Account) -> &'a String,
) -> Result<&'a str, String> {
    let values: BTreeSet<&str> = accounts.iter().map(|a| value(a.2).as_str()).collect();
    if values.len() > 1 {
        let each: Vec<String> = accounts
            .iter()
            .map(|a| format!("`{}` on `{}`", value(a.2), a.0))
            .collect();
        return Err(format!(
            "its {what} differs between targets ({}), and a manifest gives a person one",
            each.join(", ")
        ));
    }
    Ok(values.into_iter().next().unwrap_or_default())
}

/// The username most of the accounts have; the first target's on a tie.
fn most_common_username(accounts: &[AccountRef<'_>]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, username, _) in accounts {
        match counts.iter_mut().find(|(u, _)| u == username) {
            Some((_, n)) => *n += 1,
            None => counts.push((username, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(u, _)| u.to_owned())
        .unwrap_or_default()
}

/// Per (target, lower-cased username), the first membership or direct grant held there,
/// described.
type Holdings = BTreeMap<(String, String), String>;

fn holdings(cx: &Context<'_>) -> Holdings {
    let mut out = Holdings::new();
    for (target, facts) in &cx.facts {
        for (group, username) in &facts.members {
            out.entry((target.clone(), username.to_lowercase()))
                .or_insert_with(|| format!("it is a member of `{group}` on `{target}`"));
        }
        for g in &facts.grants {
            if let Holder::User(u) = &g.holder {
                out.entry((target.clone(), u.to_lowercase()))
                    .or_insert_with(|| format!("it holds `{}` on `{target}`", g.permission));
            }
        }
    }
    out
}

/// A membership or direct grant one of these accounts holds, described.
fn holds_access(holdings: &Holdings, accounts: &[AccountRef<'_>]) -> Option<String> {
    accounts
        .iter()
        .find_map(|(t, u, _)| holdings.get(&((*t).to_owned(), u.to_lowercase())).cloned())
}

/// Declares the candidates in key order, each unless a name it needs is taken: by a
/// person declared before it, or, where it has no account, by any live account (the
/// manifest would take that account for this person).
fn claim(cx: &Context<'_>, candidates: Vec<Candidate<'_>>, people: &mut People) {
    let mut live: BTreeSet<(String, String)> = BTreeSet::new();
    for (target, facts) in &cx.facts {
        let t = || target.clone();
        live.extend(facts.accounts.keys().map(|u| (t(), u.to_lowercase())));
        live.extend(facts.members.iter().map(|(_, u)| (t(), u.to_lowercase())));
        live.extend(facts.grants.iter().filter_map(|g| match &g.holder {
            Holder::User(u) => Some((t(), u.to_lowercase())),
            _ => None,
        }));
        // An account with this externalId would be renamed into the person's.
        live.extend(
            facts
                .accounts
                .values()
                .filter_map(|a| a.external_id.as_ref())
                .map(|x| (t(), x.to_lowercase())),
        );
    }
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    for c in candidates {
        let label = c.accounts.first().map(|a| a.1.to_owned()).unwrap_or_default();
        let lower = c.key.to_lowercase();
        let clash = if people.declared.contains_key(&c.key) {
            Some(format!("another person imported has the name `{}`", c.key))
        } else if let Some(target) = c.absent.iter().find(|t| live.contains(&((*t).clone(), lower.clone()))) {
            Some(format!(
                "it has no account on `{target}`, where `{}` is another account's name, which the manifest would take for this person's",
                c.key
            ))
        } else {
            c.usernames
                .iter()
                .find(|(t, u)| taken.contains(&((*t).clone(), u.to_lowercase())))
                .map(|(t, u)| format!("its username `{u}` on `{t}` is another imported person's"))
        };
        if let Some(why) = clash {
            people.skipped.push(skipped(label, why, &c.accounts));
            continue;
        }
        for (target, username) in &c.usernames {
            taken.insert((target.clone(), username.to_lowercase()));
        }
        for (target, username, _) in &c.accounts {
            people
                .keys
                .insert(((*target).to_owned(), username.to_lowercase()), c.key.clone());
        }
        people.declared.insert(c.key, c.person);
    }
}
