//! Settling what a killed run left open: an `intent` line with no `outcome` line means the
//! change may or may not have reached its server. The next `apply` with the same log reads
//! the log back, finds every such intent, looks the object up in the live state it has
//! just read, and writes a `reconciled` line saying what it found: as the change would
//! leave it, as it was before, or neither (unknown). An intent on a target this run does
//! not read stays open for a run that does.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::time::SystemTime;

use serde::Deserialize;

use super::{push_line, rfc3339, AuditLog, Event, Line, FORMAT_VERSION};
use crate::model::{Resource, ResourceMap};
use crate::plan::diff::left_as;
use crate::plan::Action;

/// What a later read found of a change whose outcome was never recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The object is as the change would leave it.
    FoundApplied,
    /// The object is as it was before the change.
    FoundNotApplied,
    /// Neither.
    Unknown,
}

impl Verdict {
    /// The word the `outcome` field of a `reconciled` line holds.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::FoundApplied => "found_applied",
            Verdict::FoundNotApplied => "found_not_applied",
            Verdict::Unknown => "unknown",
        }
    }
}

/// An earlier run's change that had no outcome, and what this run found.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub run: String,
    pub change: usize,
    pub address: String,
    pub action: Action,
    pub plan_digest: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// Just enough of any line to pair intents with their outcomes; lines of format 1, or
/// not rollcall's, fail to parse and are passed over.
#[derive(Deserialize)]
struct Key {
    format_version: u32,
    run: String,
    change: usize,
    event: Event,
}

/// An intent line, read back whole.
#[derive(Deserialize)]
struct Intent {
    time: String,
    target: String,
    address: String,
    action: Action,
    before: Option<Resource>,
    after: Option<Resource>,
    plan_digest: String,
}

impl AuditLog {
    /// Reads the log back and settles every earlier intent that has no outcome against
    /// `live` (this run's read, before it changes anything): a `reconciled` line each,
    /// synced, and the list for the caller to show. A log that cannot be read back is
    /// reported like a failed write; nothing else stops the apply.
    pub fn reconcile(&mut self, live: &BTreeMap<String, ResourceMap>) -> Vec<Reconciled> {
        let open = match self.open_intents() {
            Ok(open) => open,
            Err(e) => {
                self.error
                    .get_or_insert_with(|| format!("cannot read the audit log {} back: {e}", self.path.display()));
                return Vec::new();
            }
        };
        let now = rfc3339(SystemTime::now());
        let mut text = String::new();
        let mut settled = Vec::new();
        let mut indexes: BTreeMap<&str, Index<'_>> = BTreeMap::new();
        for (run, change, intent) in open {
            // A target this run does not read settles nothing: its intents stay open for
            // a run that does.
            let Some((target, objects)) = live.get_key_value(&intent.target) else {
                continue;
            };
            let index = indexes.entry(target.as_str()).or_insert_with(|| Index::new(objects));
            let (verdict, detail) = judge(&intent, index);
            let detail = format!(
                "no outcome was recorded: the apply that sent it at {} stopped before its answer; {detail}",
                intent.time
            );
            let line = Line {
                format_version: FORMAT_VERSION,
                time: now.clone(),
                run: &run,
                change,
                event: Event::Reconciled,
                target: &intent.target,
                address: &intent.address,
                action: intent.action,
                before: intent.before.as_ref(),
                after: intent.after.as_ref(),
                outcome: Some(verdict.word()),
                error: Some(detail.clone()),
                carried_by: None,
                plan_digest: &intent.plan_digest,
                reconciled_by: Some(&self.run),
            };
            // A reconciliation not written is made again by the next run.
            if let Err(e) = push_line(&mut text, &line) {
                let _ = self.failed(e);
            }
            settled.push(Reconciled {
                run,
                change,
                address: intent.address,
                action: intent.action,
                plan_digest: intent.plan_digest,
                verdict,
                detail,
            });
        }
        let _ = self.append(&text, true);
        settled
    }

    /// Every intent of format 2 or later with neither an outcome nor a reconciliation, in
    /// the order written. Read line by line: only the open intents are held.
    fn open_intents(&self) -> std::io::Result<Vec<(String, usize, Intent)>> {
        let file = std::fs::File::open(&self.path)?;
        let mut open: HashMap<(String, usize), (usize, Intent)> = HashMap::new();
        for (n, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line?;
            let Ok(key) = serde_json::from_slice::<Key>(&line) else {
                continue;
            };
            if key.format_version < 2 {
                continue;
            }
            match key.event {
                Event::Intent => {
                    if let Ok(intent) = serde_json::from_slice::<Intent>(&line) {
                        open.insert((key.run, key.change), (n, intent));
                    }
                }
                Event::Outcome | Event::Reconciled => {
                    open.remove(&(key.run, key.change));
                }
            }
        }
        let mut open: Vec<_> = open
            .into_iter()
            .map(|((run, change), (n, intent))| (n, run, change, intent))
            .collect();
        open.sort_by_key(|(n, ..)| *n);
        Ok(open
            .into_iter()
            .map(|(_, run, change, intent)| (run, change, intent))
            .collect())
    }
}

/// A target's objects by address as written in a log, exactly and in lower case: names
/// on the target may differ in case from the plan's (they match without regard to case).
struct Index<'a> {
    exact: HashMap<String, &'a Resource>,
    folded: HashMap<String, &'a Resource>,
}

impl<'a> Index<'a> {
    fn new(objects: &'a ResourceMap) -> Self {
        let mut index = Index {
            exact: HashMap::with_capacity(objects.len()),
            folded: HashMap::with_capacity(objects.len()),
        };
        for (address, resource) in objects {
            let written = address.to_string();
            index.folded.entry(written.to_lowercase()).or_insert(resource);
            index.exact.insert(written, resource);
        }
        index
    }

    /// The object at `address`, spelled exactly so first, then in any case.
    fn get(&self, address: &str) -> Option<&'a Resource> {
        self.exact
            .get(address)
            .or_else(|| self.folded.get(&address.to_lowercase()))
            .copied()
    }
}

/// What the live state of the intent's target says of its change, and why.
fn judge(intent: &Intent, objects: &Index<'_>) -> (Verdict, String) {
    let found = objects.get(&intent.address);
    if left_as(intent.after.as_ref(), found) {
        (
            Verdict::FoundApplied,
            "the live state read now is as the change would leave it".to_owned(),
        )
    } else if found == intent.before.as_ref() {
        (
            Verdict::FoundNotApplied,
            "the live state read now is as it was before the change".to_owned(),
        )
    } else {
        (
            Verdict::Unknown,
            "the live state read now is neither as before the change nor as it would leave it".to_owned(),
        )
    }
}
