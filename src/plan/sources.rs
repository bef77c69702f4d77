//! What the identity sources gave a plan, as the plan keeps it: a digest of every
//! sourced person (so `apply FILE` can name who changed in the sources since), each
//! followed source group's size now and at the last apply, and which manifest groups
//! follow which source groups (so the safety rules can judge a shrinking group).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::source::select::Sourced;
use crate::source::spec::ShrinkPolicy;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcesSummary {
    /// `sha256:…` over every sourced person's fingerprint.
    pub digest: String,
    /// Per sourced person (by rollcall name), a short digest of what the sources say
    /// about them: name, email, state, the followed groups they are in.
    pub people: BTreeMap<String, String>,
    /// Per followed source group (`okta:eng-backend`), its size.
    pub groups: BTreeMap<String, GroupSize>,
    /// Per manifest group that follows source groups, those groups.
    pub followed: BTreeMap<String, Vec<String>>,
    pub policy: ShrinkPolicy,
}

/// A followed source group's size: people it gave now, and at the last apply where the
/// record says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSize {
    pub now: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<usize>,
}

impl SourcesSummary {
    pub fn of(sourced: &Sourced, followed: &BTreeMap<String, Vec<String>>, policy: ShrinkPolicy) -> SourcesSummary {
        SourcesSummary {
            digest: sourced.digest(),
            people: sourced.fingerprints(),
            groups: sourced
                .counts
                .iter()
                .map(|(label, now)| {
                    let size = GroupSize {
                        now: *now,
                        before: sourced.before.get(label).copied(),
                    };
                    (label.clone(), size)
                })
                .collect(),
            followed: followed.clone(),
            policy,
        }
    }

    /// The people whose fingerprints differ between two summaries: joined, left, or
    /// changed in the sources.
    pub fn changed_people(&self, now: &SourcesSummary) -> Vec<String> {
        let mut out = Vec::new();
        for (name, fp) in &self.people {
            match now.people.get(name) {
                None => out.push(format!("{name} (no longer in the sources)")),
                Some(other) if other != fp => out.push(format!("{name} (changed in the sources)")),
                Some(_) => {}
            }
        }
        for name in now.people.keys().filter(|n| !self.people.contains_key(*n)) {
            out.push(format!("{name} (new in the sources)"));
        }
        out
    }
}
