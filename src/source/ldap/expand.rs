//! Nested groups the way OpenLDAP has them: a `member` (or `uniqueMember`) DN that is
//! itself a group. The server does not follow them (no memberOf chain rule), so every
//! group under the base is read in one paged search and the named groups are expanded
//! here, each group visited once whatever the cycles.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::schema::{self, Entry};

/// Every group under the base, by normalized DN.
#[derive(Debug, Default)]
pub struct Groups {
    by_dn: BTreeMap<String, GroupEntry>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct GroupEntry {
    /// The DN as the server spells it.
    pub dn: String,
    /// Every `cn` value (a group may have several).
    pub names: Vec<String>,
    /// Member DNs, normalized.
    members: Vec<String>,
}

/// What a group name matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    One(&'a GroupEntry),
    None,
    Many(usize),
}

/// A group's members once nesting is followed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Normalized DNs of the people among them.
    pub people: BTreeSet<String>,
    /// Distinct member DNs that are neither a person nor a group under the base.
    pub skipped: usize,
}

impl Groups {
    pub fn new(entries: Vec<Entry>) -> Groups {
        let by_dn = entries
            .into_iter()
            .map(|e| {
                let members = e
                    .values("member")
                    .iter()
                    .chain(e.values("uniqueMember"))
                    .map(|v| schema::normalize_dn(schema::member_dn(v)))
                    .collect();
                let names = e.values("cn").to_vec();
                (
                    schema::normalize_dn(&e.dn),
                    GroupEntry {
                        dn: e.dn,
                        names,
                        members,
                    },
                )
            })
            .collect();
        Groups { by_dn }
    }

    /// A group by DN (when the name has `=`) or by `cn`, without regard to case.
    pub fn find(&self, name: &str) -> Lookup<'_> {
        if schema::is_dn(name) {
            return match self.by_dn.get(&schema::normalize_dn(name)) {
                Some(g) => Lookup::One(g),
                None => Lookup::None,
            };
        }
        let wanted = name.trim().to_lowercase();
        let found: Vec<&GroupEntry> = self
            .by_dn
            .values()
            .filter(|g| g.names.iter().any(|n| n.trim().to_lowercase() == wanted))
            .collect();
        match found.as_slice() {
            [] => Lookup::None,
            [one] => Lookup::One(one),
            many => Lookup::Many(many.len()),
        }
    }

    /// The people in `group`, nested groups followed once each; `is_person` says which
    /// normalized DNs are people.
    pub fn expand(&self, group: &GroupEntry, is_person: impl Fn(&str) -> bool) -> Expanded {
        let mut out = Expanded::default();
        let mut seen_groups: HashSet<&str> = HashSet::new();
        let mut skipped: HashSet<&str> = HashSet::new();
        let start = schema::normalize_dn(&group.dn);
        let mut queue: Vec<&GroupEntry> = vec![group];
        seen_groups.insert(start.as_str());
        // `start` lives for the whole walk; the borrow above needs it to.
        while let Some(g) = queue.pop() {
            for member in &g.members {
                if is_person(member) {
                    out.people.insert(member.clone());
                } else if let Some((dn, nested)) = self.by_dn.get_key_value(member) {
                    if seen_groups.insert(dn.as_str()) {
                        queue.push(nested);
                    }
                } else {
                    skipped.insert(member.as_str());
                }
            }
        }
        out.skipped = skipped.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(dn: &str, cn: &str, members: &[&str]) -> Entry {
        Entry::new(
            dn.to_owned(),
            [
                ("cn".to_owned(), vec![cn.to_owned()]),
                ("member".to_owned(), members.iter().map(|m| (*m).to_owned()).collect()),
            ],
        )
    }

    #[test]
    fn nesting_and_cycles() {
        let groups = Groups::new(vec![
            group("cn=a,dc=x", "a", &["uid=1,dc=x", "cn=b,dc=x"]),
            group("cn=b,dc=x", "b", &["uid=2,dc=x", "CN=C, DC=X"]),
            group(
                "cn=c,dc=x",
                "c",
                &["uid=3,dc=x", "cn=a,dc=x", "cn=printer,dc=x", "cn=printer,dc=x"],
            ),
        ]);
        let Lookup::One(a) = groups.find("A") else { panic!("a") };
        let got = groups.expand(a, |dn| dn.starts_with("uid="));
        let want: BTreeSet<String> = ["uid=1,dc=x", "uid=2,dc=x", "uid=3,dc=x"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(got.people, want);
        assert_eq!(got.skipped, 1, "the printer once");
        assert!(matches!(groups.find("cn=B,dc=x"), Lookup::One(g) if g.dn == "cn=b,dc=x"));
        assert_eq!(groups.find("nope"), Lookup::None);
    }

    #[test]
    fn a_cn_twice_is_ambiguous() {
        let groups = Groups::new(vec![
            group("cn=a,ou=1,dc=x", "a", &[]),
            group("cn=a,ou=2,dc=x", "a", &[]),
        ]);
        assert_eq!(groups.find("a"), Lookup::Many(2));
    }
}
