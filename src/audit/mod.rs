//! The audit log: JSON lines that account for every change `apply` sent, skipped or left.
//! A change's `intent` line is written (and synced to disk) before its request goes out,
//! and its `outcome` line once the answer is known, both naming the run and the change's
//! number in the plan. A process killed between the two leaves an intent without an
//! outcome, and the next `apply` with the same log settles it from the live state it read
//! (`reconcile`), so a kill at any moment loses no change that reached the server.
//!
//! A line holds what a reviewer needs to reconstruct the run (time, run, change, target,
//! address, action, before, after, outcome, error, the digest of the plan) and never a
//! secret: values are the managed attributes only, and errors were scrubbed of tokens by
//! the HTTP layer.

mod reconcile;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::apply::Outcome;
use crate::model::Resource;
use crate::plan::{Action, Change};

pub use reconcile::{Reconciled, Verdict};

/// The version of the line format, written on every line. Version 1 (no such field) had
/// one line per change, written when its outcome was known.
pub const FORMAT_VERSION: u32 = 2;

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The change is about to be sent: written and synced before its request goes out.
    Intent,
    /// The change's outcome, as this run saw it.
    Outcome,
    /// The outcome of an earlier run's intent that had none, from a later run's read.
    Reconciled,
}

pub struct AuditLog {
    path: PathBuf,
    file: File,
    run: String,
    plan_digest: String,
    /// The first write that failed; the apply goes on and reports it at the end.
    pub error: Option<String>,
}

/// One line. Every line repeats the change in full, so each can be read alone.
#[derive(Serialize)]
struct Line<'a> {
    format_version: u32,
    time: String,
    run: &'a str,
    /// The change's number in its plan, from 1, in plan order.
    change: usize,
    event: Event,
    target: &'a str,
    address: &'a str,
    action: Action,
    before: Option<&'a Resource>,
    after: Option<&'a Resource>,
    outcome: Option<&'a str>,
    error: Option<String>,
    /// For a change carried out by a delete rather than sent: that delete's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_by: Option<String>,
    plan_digest: &'a str,
    /// On a `reconciled` line: the run whose read settled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reconciled_by: Option<&'a str>,
}

impl AuditLog {
    /// Opens (or creates) the log for appending, for a new run of the plan with this
    /// digest. A last line cut short (a crash mid-write) is ended first, so the next line
    /// starts on a line of its own.
    pub fn open(path: &Path, plan_digest: &str) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1))?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(AuditLog {
            path: path.to_owned(),
            file,
            run: run_id(),
            plan_digest: plan_digest.to_owned(),
            error: None,
        })
    }

    /// This run's id, on every line it writes.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Records that these changes (index in the plan, change) are about to be sent, one
    /// write for the step, synced to disk before the request leaves: a change that reached
    /// a server has its intent on disk even if the machine goes down next. An error says
    /// the intents are not on record: the caller must not send these changes.
    pub fn started(&mut self, changes: &[(usize, &Change)]) -> Result<(), String> {
        let time = rfc3339(SystemTime::now());
        let mut text = String::new();
        for &(i, change) in changes {
            let address = change.address.to_string();
            let line = Line {
                format_version: FORMAT_VERSION,
                time: time.clone(),
                run: &self.run,
                change: i + 1,
                event: Event::Intent,
                target: &change.address.target,
                address: &address,
                action: change.action,
                before: change.before.as_ref(),
                after: change.after.as_ref(),
                outcome: None,
                error: None,
                carried_by: None,
                plan_digest: &self.plan_digest,
                reconciled_by: None,
            };
            push_line(&mut text, &line).map_err(|e| self.failed(e))?;
        }
        self.append(&text, true)
    }

    /// Records a change's outcome (index in the plan, change, outcome). Not synced: a kill
    /// loses nothing written, and after a machine crash an outcome lost is an intent
    /// without an outcome, which the next run settles.
    pub fn record(&mut self, index: usize, change: &Change, outcome: &Outcome) {
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
            Outcome::Blocked(e) => (
                "blocked",
                Some(format!("not attempted: a check before any change failed: {e}")),
            ),
        };
        let address = change.address.to_string();
        let line = Line {
            format_version: FORMAT_VERSION,
            time: rfc3339(SystemTime::now()),
            run: &self.run,
            change: index + 1,
            event: Event::Outcome,
            target: &change.address.target,
            address: &address,
            action: change.action,
            before: change.before.as_ref(),
            after: change.after.as_ref(),
            outcome: Some(outcome),
            error,
            carried_by,
            plan_digest: &self.plan_digest,
            reconciled_by: None,
        };
        let mut text = String::new();
        // A lost outcome leaves an intent the next run settles: the apply goes on.
        let _ = push_line(&mut text, &line)
            .map_err(|e| self.failed(e))
            .and_then(|()| self.append(&text, false));
    }

    /// Syncs what was written and hands back the first failure, if any.
    pub fn finish(mut self) -> Option<String> {
        if let Err(e) = self.file.sync_data() {
            let _ = self.failed(e.to_string());
        }
        self.error
    }

    /// Appends whole lines with one `write_all` on a file opened for appending: lines of
    /// a step go together, and a kill between two `write(2)` calls leaves at worst the
    /// last line cut short, which `open` ends before the next run writes.
    fn append(&mut self, text: &str, sync: bool) -> Result<(), String> {
        if text.is_empty() {
            return Ok(());
        }
        let mut written = self.file.write_all(text.as_bytes());
        if sync {
            written = written.and_then(|()| self.file.sync_data());
        }
        written.map_err(|e| self.failed(e.to_string()))
    }

    /// Keeps the first failure for the end of the run, and hands back this one.
    fn failed(&mut self, e: String) -> String {
        let message = format!("cannot write the audit log {}: {e}", self.path.display());
        self.error.get_or_insert_with(|| message.clone());
        message
    }
}

fn push_line(text: &mut String, line: &Line<'_>) -> Result<(), String> {
    let json = serde_json::to_string(line).map_err(|e| e.to_string())?;
    text.push_str(&json);
    text.push('\n');
    Ok(())
}

/// A run's id: 16 random hex digits, so two runs of one plan (the same digest, after one
/// was killed) never share one. Without randomness, the clock and the process id.
fn run_id() -> String {
    let n = getrandom::u64().unwrap_or_else(|_| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (nanos as u64) ^ (u64::from(std::process::id()) << 32)
    });
    format!("{n:016x}")
}

/// UTC time as `2026-11-23T12:34:56.789Z`: always three digits of fraction, cut rather
/// than rounded, as the log's format says. A clock past what jiff holds (year 9999) reads
/// as the epoch rather than failing the write.
pub fn rfc3339(t: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{at:.3}")
}

#[cfg(test)]
mod tests;
