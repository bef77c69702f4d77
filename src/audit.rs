//! The audit log: one JSON line per change `apply` ran or skipped, appended as each
//! outcome is known, so a log survives a killed process up to its last change. A line
//! holds what a reviewer needs to reconstruct the run (time, target, address, action,
//! before, after, outcome, error, the digest of the plan) and never a secret: values are
//! the managed attributes only, and errors were scrubbed of tokens by the HTTP layer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::apply::Outcome;
use crate::model::Resource;
use crate::plan::{Action, Change};

pub struct AuditLog {
    path: PathBuf,
    file: File,
    plan_digest: String,
    /// The first write that failed; the apply goes on and reports it at the end.
    pub error: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    target: &'a str,
    address: String,
    action: Action,
    before: Option<&'a Resource>,
    after: Option<&'a Resource>,
    outcome: &'static str,
    error: Option<String>,
    /// For a change carried out by a delete rather than sent: that delete's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_by: Option<String>,
    plan_digest: &'a str,
}

impl AuditLog {
    /// Opens (or creates) the log for appending.
    pub fn open(path: &Path, plan_digest: &str) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file,
            plan_digest: plan_digest.to_owned(),
            error: None,
        })
    }

    pub fn record(&mut self, change: &Change, outcome: &Outcome) {
        let carried_by = match outcome {
            Outcome::Carried { by } => Some(by.to_string()),
            _ => None,
        };
        let (outcome, error) = match outcome {
            Outcome::Applied | Outcome::Carried { .. } => ("applied", None),
            Outcome::Failed(e) => ("failed", Some(e.clone())),
            Outcome::Skipped { because } => ("skipped", Some(format!("not attempted: {because} failed"))),
            Outcome::Interrupted => (
                "interrupted",
                Some("not attempted: the apply was interrupted".to_owned()),
            ),
        };
        let line = Line {
            time: rfc3339(SystemTime::now()),
            target: &change.address.target,
            address: change.address.to_string(),
            action: change.action,
            before: change.before.as_ref(),
            after: change.after.as_ref(),
            outcome,
            error,
            carried_by,
            plan_digest: &self.plan_digest,
        };
        let written = serde_json::to_string(&line)
            .map_err(|e| e.to_string())
            .and_then(|mut text| {
                text.push('\n');
                // One write per line, so concurrent appenders never interleave within one.
                self.file.write_all(text.as_bytes()).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            self.error
                .get_or_insert_with(|| format!("cannot write the audit log {}: {e}", self.path.display()));
        }
    }
}

/// UTC time as `2026-11-23T12:34:56.789Z`: always three digits of fraction, cut rather
/// than rounded, as the log's format says. A clock past what jiff holds (year 9999) reads
/// as the epoch rather than failing the write.
pub fn rfc3339(t: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{at:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_436_096_789);
        assert_eq!(rfc3339(t), "2026-11-23T12:14:56.789Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
        // Cut, not rounded: 56.789999999 is still 56.789.
        let late = UNIX_EPOCH + Duration::from_nanos(1_795_436_096_789_999_999);
        assert_eq!(rfc3339(late), "2026-11-23T12:14:56.789Z");
    }
}
