//! From what the sources answered to people and memberships in the manifest's terms, the
//! same way for every kind: who is a person (the selection's groups or everyone, the
//! members of followed groups, narrowed by the filters), whether they are active (the
//! selection's statuses, else the kind's sense), their rollcall name (the username
//! rule; two people given one name are reported), and the members each followed group
//! gets, with where each came from.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::spec::{Selection, Sourcing, UsernameRule};
use super::{Person, Snapshot};
use crate::manifest::Origin;

/// A person a source provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcedPerson {
    pub name: String,
    pub email: String,
    pub active: bool,
    /// The source's name in the manifest.
    pub source: String,
    /// Where they come from, for the plan: `okta (00u1a2b3)`, `okta (00u1a2b3,
    /// SUSPENDED)`, `left okta`.
    pub from: String,
    /// Where the source is declared, for diagnostics.
    #[serde(skip)]
    pub at: Option<Origin>,
}

/// Everything the sources provide, in the manifest's terms.
#[derive(Debug, Clone, Default)]
pub struct Sourced {
    /// By rollcall name.
    pub people: BTreeMap<String, SourcedPerson>,
    /// Each followed manifest group's members, by rollcall name, with the source groups
    /// they are in (`okta:eng-backend`).
    pub members: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Each followed source group (`okta:eng-backend`) and how many people it gave.
    pub counts: BTreeMap<String, usize>,
    /// What was left out, per source, for `rollcall sources`: members that are no
    /// person, people without an email, people the filters leave out.
    pub left_out: BTreeMap<String, Vec<String>>,
    /// People the last apply had from the sources and the sources no longer give:
    /// offboarded once, then forgotten.
    pub leavers: BTreeMap<String, SourcedPerson>,
    /// Each followed source group's count at the last apply, where a record says.
    pub before: BTreeMap<String, usize>,
    /// The requests each source's read took.
    pub requests: BTreeMap<String, usize>,
}

/// A problem with what the sources answered: two people given one name, a name that is
/// no valid rollcall name. Reported like a manifest problem, at the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Origin,
    pub message: String,
    pub hint: String,
}

impl Sourced {
    /// `sha256:…` over every person (name, email, active) and every followed group's
    /// members: what a saved plan records, and what `apply` checks again.
    pub fn digest(&self) -> String {
        let mut text = String::new();
        for (name, fingerprint) in self.fingerprints() {
            text.push_str(&format!("{name}={fingerprint}\n"));
        }
        crate::desired::digest(text.as_bytes())
    }

    /// Per person, a short digest of what the sources say about them (name, email,
    /// state, the followed groups they are in): two runs whose fingerprints differ name
    /// the people who changed.
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        let mut groups_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (group, members) in &self.members {
            for name in members.keys() {
                groups_of.entry(name.as_str()).or_default().push(group.as_str());
            }
        }
        self.people
            .iter()
            .map(|(name, p)| {
                let groups = groups_of.get(name.as_str()).map(|g| g.join(",")).unwrap_or_default();
                let text = format!("{}\n{}\n{}\n{groups}", p.name, p.email.to_lowercase(), p.active);
                let digest = crate::desired::digest(text.as_bytes());
                // 16 hex digits tell people apart; the whole digest covers the rest.
                let short: String = digest.trim_start_matches("sha256:").chars().take(16).collect();
                (name.clone(), short)
            })
            .collect()
    }
}

/// Turns the sources' answers into people and memberships. `answers` holds one
/// snapshot per source the manifest asks anything of.
pub fn select(sourcing: &Sourcing, answers: &BTreeMap<String, Snapshot>) -> Result<Sourced, Vec<Problem>> {
    let mut out = Sourced::default();
    let mut problems = Vec::new();
    // Per source: source person id to rollcall name, for the followed groups.
    let mut named: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    // Who gave each name first: (source, id, email).
    let mut given: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    // Each email's name: the same address from two sources is one person.
    let mut by_email: BTreeMap<String, String> = BTreeMap::new();
    for (source, spec) in &sourcing.sources {
        let Some(snapshot) = answers.get(source) else { continue };
        let default = Selection::default();
        let selection = spec.people.as_ref().unwrap_or(&default);
        // The selection's people, and every member of a group a manifest group follows.
        let mut candidates: BTreeSet<&str> = BTreeSet::new();
        match (&spec.people, &selection.groups) {
            (Some(_), None) => candidates.extend(snapshot.people.keys().map(String::as_str)),
            (_, Some(groups)) => {
                for g in groups {
                    if let Some(group) = snapshot.groups.get(g) {
                        candidates.extend(group.members.iter().map(String::as_str));
                    }
                }
            }
            (None, None) => {}
        }
        for feed in sourcing.feeds.values().flatten().filter(|f| &f.source == source) {
            if let Some(group) = snapshot.groups.get(&feed.group) {
                candidates.extend(group.members.iter().map(String::as_str));
            }
        }
        let left_out = out.left_out.entry(source.clone()).or_default();
        for group in snapshot.groups.values().filter(|g| g.skipped > 0) {
            left_out.push(format!(
                "{} member{} of {} that {} no person",
                group.skipped,
                if group.skipped == 1 { "" } else { "s" },
                group.name,
                if group.skipped == 1 { "is" } else { "are" }
            ));
        }
        for id in candidates {
            let Some(person) = snapshot.people.get(id) else {
                continue;
            };
            let email = attribute(person, selection.email_attribute.as_deref()).or(person.email.clone());
            let Some(email) = email.map(|e| e.trim().to_owned()).filter(|e| e.contains('@')) else {
                left_out.push(format!("{} ({}): no email", label(person), person.id));
                continue;
            };
            if let Some(why) = filtered_out(selection, person, &email) {
                left_out.push(format!("{} ({}): {why}", label(person), person.id));
                continue;
            }
            if let Some(name) = by_email.get(&email.to_lowercase()) {
                // One person in two sources (or listed twice): the first names them.
                named.entry(source.as_str()).or_default().insert(id, name.clone());
                continue;
            }
            let Some(name) = username(&selection.username, person, &email) else {
                problems.push(Problem {
                    at: spec.at,
                    message: format!(
                        "source `{source}`: {} ({}) has no {} to make a name from",
                        label(person),
                        person.id,
                        selection.username.describe()
                    ),
                    hint: "choose another `people.username` rule, or fix the person in the source".to_owned(),
                });
                continue;
            };
            if !crate::resolve::valid_name(crate::resolve::NameKind::User, &name) {
                problems.push(Problem {
                    at: spec.at,
                    message: format!(
                        "source `{source}`: {} ({}) would be named `{name}`, which is no valid user name",
                        label(person),
                        person.id
                    ),
                    hint: "choose another `people.username` rule".to_owned(),
                });
                continue;
            }
            if let Some((other_source, other_id, other_email)) = given.get(&name) {
                problems.push(Problem {
                    at: spec.at,
                    message: format!(
                        "source `{source}`: {} ({email}) and {other_source}'s {other_id} ({other_email}) would both be named `{name}`",
                        person.id
                    ),
                    hint: "use `people.username: email` (or another rule) so each person gets a name of their own".to_owned(),
                });
                continue;
            }
            given.insert(name.clone(), (source.clone(), person.id.clone(), email.clone()));
            by_email.insert(email.to_lowercase(), name.clone());
            let active = match &selection.status {
                Some(statuses) => statuses.iter().any(|s| s.eq_ignore_ascii_case(&person.status)),
                None => person.active,
            };
            let display = attribute(person, selection.name_attribute.as_deref())
                .or(person.display_name.clone())
                .or(person.login.clone())
                .unwrap_or_else(|| name.clone());
            named.entry(source.as_str()).or_default().insert(id, name.clone());
            out.people.insert(
                name.clone(),
                SourcedPerson {
                    name: display.trim().to_owned(),
                    email,
                    active,
                    source: source.clone(),
                    from: if active {
                        format!("{source} ({})", person.id)
                    } else {
                        format!("{source} ({}, {})", person.id, person.status)
                    },
                    at: Some(spec.at),
                },
            );
        }
    }
    // The groups people are selected from are held to their size too: one answered
    // short would make its people leavers.
    for (source, spec) in &sourcing.sources {
        let Some(groups) = spec.people.as_ref().and_then(|p| p.groups.as_ref()) else {
            continue;
        };
        let Some(snapshot) = answers.get(source) else { continue };
        let names = named.get(source.as_str());
        for g in groups {
            let Some(group) = snapshot.groups.get(g) else { continue };
            let count = group
                .members
                .iter()
                .filter(|id| names.is_some_and(|n| n.contains_key(id.as_str())))
                .count();
            out.counts.insert(format!("{source}:{g}"), count);
        }
    }
    for (group, feeds) in &sourcing.feeds {
        let members = out.members.entry(group.clone()).or_default();
        for feed in feeds {
            let label = feed.label();
            let names = named.get(feed.source.as_str());
            let Some(source_group) = answers.get(&feed.source).and_then(|s| s.groups.get(&feed.group)) else {
                continue;
            };
            let mut count = 0;
            for id in &source_group.members {
                let Some(name) = names.and_then(|n| n.get(id.as_str())) else {
                    continue;
                };
                count += 1;
                // An inactive person too: resolve leaves out whoever stays inactive, and
                // keeps whom the manifest declares active.
                members.entry(name.clone()).or_default().push(label.clone());
            }
            out.counts.insert(label, count);
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn label(p: &Person) -> String {
    p.display_name
        .clone()
        .or_else(|| p.login.clone())
        .unwrap_or_else(|| "a person".to_owned())
}

fn attribute(p: &Person, name: Option<&str>) -> Option<String> {
    let name = name?;
    p.attributes.get(name).cloned().filter(|v| !v.trim().is_empty())
}

/// Why the selection's filters leave a person out, if they do.
fn filtered_out(s: &Selection, p: &Person, email: &str) -> Option<String> {
    if let Some(departments) = &s.department {
        let theirs = p.department.as_deref().unwrap_or("").trim();
        if !departments.iter().any(|d| d.eq_ignore_ascii_case(theirs)) {
            return Some(format!("department `{theirs}` is not selected"));
        }
    }
    if let Some(domains) = &s.domain {
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.to_lowercase())
            .unwrap_or_default();
        if !domains.contains(&domain) {
            return Some(format!("domain `{domain}` is not selected"));
        }
    }
    None
}

/// A person's rollcall name by the rule, lower-cased (names match without regard to
/// case on every target).
fn username(rule: &UsernameRule, p: &Person, email: &str) -> Option<String> {
    let name = match rule {
        UsernameRule::EmailLocalPart => email.rsplit_once('@').map(|(local, _)| local.to_owned()),
        UsernameRule::Email => Some(email.to_owned()),
        UsernameRule::Login => p.login.clone(),
        UsernameRule::Attribute(a) => p.attributes.get(a).cloned(),
    }?;
    let name = name.trim().to_lowercase();
    (!name.is_empty()).then_some(name)
}
