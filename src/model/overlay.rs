//! `Overlay`: a resource map seen with a few entries added, replaced or taken away,
//! without copying it. Planning compares the manifest with live state respelled as the
//! manifest spells names, with in-place renames carried out, and checks the safety rules
//! against live state with the plan's changes made. At a million objects a copy of live
//! state per view costs hundreds of megabytes, where the differences are usually a handful
//! of names and the plan's own changes.

use std::collections::BTreeSet;
use std::iter::Peekable;

use super::{Address, Resource, ResourceId, ResourceMap};

/// `base` with `hidden` taken away and `added` put over it. Reads and iteration see the
/// result, in address order, as if it were one map.
#[derive(Debug, Clone)]
pub struct Overlay<'a> {
    base: &'a ResourceMap,
    /// Entries of `base` taken away (unless `added` has one at the same address).
    hidden: BTreeSet<&'a Address>,
    /// Entries added, each replacing any entry of `base` at its address.
    added: ResourceMap,
}

impl<'a> Overlay<'a> {
    /// `base` as it is.
    pub fn new(base: &'a ResourceMap) -> Overlay<'a> {
        Overlay {
            base,
            hidden: BTreeSet::new(),
            added: ResourceMap::new(),
        }
    }

    pub fn get(&self, address: &Address) -> Option<&Resource> {
        if let Some(r) = self.added.get(address) {
            return Some(r);
        }
        if self.hidden.contains(address) {
            return None;
        }
        self.base.get(address)
    }

    pub fn contains_key(&self, address: &Address) -> bool {
        self.get(address).is_some()
    }

    pub fn insert(&mut self, address: Address, resource: Resource) {
        self.added.insert(address, resource);
    }

    pub fn remove(&mut self, address: &Address) {
        self.added.remove(address);
        if let Some((key, _)) = self.base.get_key_value(address) {
            self.hidden.insert(key);
        }
    }

    /// Every entry, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &Resource)> + '_ {
        // An entry of `base` that `added` replaces is skipped by the merge itself.
        let none_hidden = self.hidden.is_empty();
        let base = self
            .base
            .iter()
            .filter(move |(a, _)| none_hidden || !self.hidden.contains(*a));
        Merge {
            left: base.peekable(),
            right: self.added.iter().peekable(),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &Address> + '_ {
        self.iter().map(|(a, _)| a)
    }

    /// The same entries with ids passed through `rename`, which returns the new id of an
    /// entry it renames and `None` for one it leaves alone. Where two entries end up at
    /// one address, the later one in address order wins, as collecting the renamed
    /// entries into a new map would have it.
    pub fn renamed(&self, rename: impl Fn(&ResourceId) -> Option<ResourceId>) -> Overlay<'a> {
        let moved: Vec<(Address, Address)> = self
            .iter()
            .filter_map(|(a, _)| Some((a.clone(), Address::new(&a.target, rename(&a.id)?))))
            .collect();
        let mut out = self.clone();
        if moved.is_empty() {
            return out;
        }
        for (old, _) in &moved {
            out.remove(old);
        }
        // In address order, each entry lands at its new address over whatever is there;
        // an entry that stays puts itself back over one that landed on it earlier.
        let mut moved = moved.into_iter().peekable();
        for (a, r) in self.iter() {
            match moved.next_if(|(old, _)| old == a) {
                Some((_, new)) => out.insert(new, r.clone()),
                None if out.added.contains_key(a) => out.insert(a.clone(), r.clone()),
                None => {}
            }
        }
        out
    }
}

/// Two iterators in address order as one in address order; where both have an address,
/// the right one's entry replaces the left one's.
struct Merge<L: Iterator, R: Iterator> {
    left: Peekable<L>,
    right: Peekable<R>,
}

impl<'m, L, R> Iterator for Merge<L, R>
where
    L: Iterator<Item = (&'m Address, &'m Resource)>,
    R: Iterator<Item = (&'m Address, &'m Resource)>,
{
    type Item = (&'m Address, &'m Resource);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.left.peek(), self.right.peek()) {
            (Some((l, _)), Some((r, _))) if r < l => self.right.next(),
            (Some((l, _)), Some((r, _))) if r == l => {
                self.left.next();
                self.right.next()
            }
            (Some(_), _) => self.left.next(),
            (None, _) => self.right.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Address {
        Address::new("t", ResourceId::User { name: name.into() })
    }

    fn member(group: &str, user: &str) -> Address {
        Address::new(
            "t",
            ResourceId::Membership {
                group: group.into(),
                user: user.into(),
            },
        )
    }

    fn attrs(name: &str) -> Resource {
        Resource::User(Box::new(crate::model::UserAttrs::new(
            name,
            format!("{name}@example.com"),
        )))
    }

    fn map(entries: &[(Address, Resource)]) -> ResourceMap {
        entries.iter().cloned().collect()
    }

    fn collected(o: &Overlay<'_>) -> ResourceMap {
        o.iter().map(|(a, r)| (a.clone(), r.clone())).collect()
    }

    #[test]
    fn reads_and_iterates_as_the_changed_map() {
        let base = map(&[
            (user("ann"), attrs("Ann")),
            (user("bob"), attrs("Bob")),
            (user("dan"), attrs("Dan")),
        ]);
        let mut o = Overlay::new(&base);
        o.remove(&user("bob"));
        o.insert(user("cat"), attrs("Cat"));
        o.insert(user("dan"), attrs("Daniel"));
        o.remove(&user("nobody"));
        let mut expected = base.clone();
        expected.remove(&user("bob"));
        expected.insert(user("cat"), attrs("Cat"));
        expected.insert(user("dan"), attrs("Daniel"));
        assert_eq!(collected(&o), expected);
        assert_eq!(o.get(&user("bob")), None);
        assert_eq!(o.get(&user("dan")), Some(&attrs("Daniel")));
        assert!(o.contains_key(&user("ann")) && o.contains_key(&user("cat")));
        // Put back after being taken away.
        o.insert(user("bob"), attrs("Robert"));
        assert_eq!(o.get(&user("bob")), Some(&attrs("Robert")));
        assert_eq!(o.keys().count(), 4);
    }

    #[test]
    fn renaming_is_collecting_the_renamed_entries_into_a_new_map() {
        let base = map(&[
            (user("Ann"), attrs("one")),
            (user("ann"), attrs("two")),
            (user("bob"), attrs("three")),
            (member("ops", "Ann"), Resource::membership()),
            (member("ops", "cat"), Resource::membership()),
            (user("zed"), attrs("four")),
        ]);
        let lower = |id: &ResourceId| {
            let lower = |n: &str| (n != n.to_lowercase()).then(|| n.to_lowercase().into());
            let zed = |n: &str| if n == "zed" { Some("ann".into()) } else { lower(n) };
            id.renamed(&zed, &lower)
        };
        let expected: ResourceMap = base
            .iter()
            .map(|(a, r)| (Address::new(&a.target, lower(&a.id).unwrap_or(a.id.clone())), r.clone()))
            .collect();
        let renamed = Overlay::new(&base).renamed(lower);
        assert_eq!(collected(&renamed), expected);
        assert_eq!(renamed.get(&user("ann")), Some(&attrs("four")));
        // And again on top: `bob` comes after `ann`, so it wins.
        let bob = |id: &ResourceId| {
            let bob = |n: &str| (n == "bob").then(|| "ann".into());
            id.renamed(&bob, &|_: &str| None)
        };
        let expected: ResourceMap = expected
            .iter()
            .map(|(a, r)| (Address::new(&a.target, bob(&a.id).unwrap_or(a.id.clone())), r.clone()))
            .collect();
        let again = renamed.renamed(bob);
        assert_eq!(collected(&again), expected);
        assert_eq!(again.get(&user("ann")), Some(&attrs("three")));
        assert_eq!(again.get(&user("bob")), None);
    }
}
