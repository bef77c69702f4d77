//! The record of what the sources gave at the last apply that left nothing undone,
//! `.rollcall/sources.json` in the manifest directory. Two things need it: the people
//! who have left the sources since (offboarded, and kept offboarded: a leaver stays in
//! the record until a source gives them again) and how much each followed source group
//! has shrunk since (the shrink limit). Without a record (a
//! first run, or a CI job that keeps no files) neither is known: leavers are only those
//! the sources still list as inactive, and shrinking is judged against live state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::select::{Sourced, SourcedPerson};

/// Where the record of a manifest directory lives.
pub fn path(manifest_dir: &Path) -> PathBuf {
    manifest_dir.join(".rollcall").join("sources.json")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    /// The people the sources gave, active or not, by rollcall name.
    pub people: BTreeMap<String, SourcedPerson>,
    /// How many people each followed source group gave.
    pub counts: BTreeMap<String, usize>,
}

const VERSION: u32 = 1;

impl Record {
    /// What the sources gave, and the leavers, who stay offboarded.
    pub fn of(sourced: &Sourced) -> Record {
        let mut people = sourced.leavers.clone();
        people.extend(sourced.people.iter().map(|(k, v)| (k.clone(), v.clone())));
        Record {
            version: VERSION,
            people,
            counts: sourced.counts.clone(),
        }
    }

    /// The record at `path`; None when there is none. A record that cannot be read is
    /// an error: running as if there were none would forget who left.
    pub fn load(path: &Path) -> Result<Option<Record>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let record: Record =
            serde_json::from_str(&text).map_err(|e| format!("{} is no record rollcall wrote: {e}", path.display()))?;
        if record.version != VERSION {
            return Err(format!(
                "{} is a record of version {}, this rollcall reads version {VERSION}",
                path.display(),
                record.version
            ));
        }
        Ok(Some(record))
    }

    /// Writes the record atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The people this record has whom the sources no longer give: each marked
    /// inactive, with the source they left. They stay in the record (as leavers), so
    /// they stay offboarded, and declared, until a source gives them again.
    pub fn leavers(&self, now: &Sourced) -> BTreeMap<String, SourcedPerson> {
        self.people
            .iter()
            .filter(|(name, _)| !now.people.contains_key(*name))
            .map(|(name, p)| {
                let left = SourcedPerson {
                    active: false,
                    from: format!("left {}", p.source),
                    ..p.clone()
                };
                (name.clone(), left)
            })
            .collect()
    }
}
