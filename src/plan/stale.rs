//! `stale`: is a saved plan still true? Each change records the live object it expects
//! (`before`, absent for a create). `apply FILE` re-reads the objects the plan touches and
//! lists every one that differs, so nothing runs on a plan the world has moved past.
//! Objects the plan does not touch may change freely.

use std::collections::BTreeMap;

use crate::model::{Address, Resource, ResourceMap, Spellings};
use crate::plan::Plan;

/// A change whose object is no longer as the plan expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub address: Address,
    pub expected: Option<Resource>,
    pub found: Option<Resource>,
}

pub fn check(plan: &Plan, live: &BTreeMap<String, ResourceMap>) -> Vec<Stale> {
    let mut out = Vec::new();
    let empty = ResourceMap::new();
    for target in &plan.targets {
        let changes: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.address.target == target.name)
            .collect();
        let mut spellings = Spellings::default();
        for c in &changes {
            spellings.learn(&c.address.id);
        }
        let live = spellings.respell(live.get(&target.name).unwrap_or(&empty));
        for c in changes {
            let found = live.get(&c.address);
            if found != c.before.as_ref() {
                out.push(Stale {
                    address: c.address.clone(),
                    expected: c.before.clone(),
                    found: found.cloned(),
                });
            }
        }
    }
    out
}

/// `absent`, or the object's attributes as `k=v` pairs.
pub fn describe(r: Option<&Resource>) -> String {
    match r {
        None => "absent".to_owned(),
        Some(r) => {
            let attrs = r.attributes();
            if attrs.is_empty() {
                "present".to_owned()
            } else {
                attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
    }
}
