//! The log's lines as written and read back: an intent before each sent change, one
//! outcome per change, and the settling of intents a killed run left without one.

use super::*;
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use crate::model::{Address, ResourceId, ResourceMap, UserAttrs};

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

fn user(name: &str, email: &str) -> Resource {
    Resource::User(Box::new(UserAttrs::new(name, email)))
}

fn address(name: &str) -> Address {
    Address::new("bb", ResourceId::User { name: name.into() })
}

fn create(name: &str) -> Change {
    Change {
        address: address(name),
        action: Action::Create,
        before: None,
        after: Some(user(name, &format!("{name}@example.com"))),
        reason: None,
        renamed_from: None,
        renamed_to: None,
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_intent_goes_before_each_sent_change_and_one_outcome_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (a, b) = (create("ann"), create("bo"));
    let mut log = AuditLog::open(&path, "sha256:abc").unwrap();
    let run = log.run().to_owned();
    log.started(&[(0, &a), (1, &b)]).unwrap();
    log.record(0, &a, &Outcome::Applied);
    log.record(1, &b, &Outcome::Failed("bb: POST /users failed: HTTP 500".to_owned()));
    assert_eq!(log.finish(), None);
    let got = lines(&path);
    let summary: Vec<(u64, &str, u64, &str, &serde_json::Value)> = got
        .iter()
        .map(|l| {
            (
                l["format_version"].as_u64().unwrap(),
                l["run"].as_str().unwrap(),
                l["change"].as_u64().unwrap(),
                l["event"].as_str().unwrap(),
                &l["outcome"],
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (2, run.as_str(), 1, "intent", &serde_json::Value::Null),
            (2, run.as_str(), 2, "intent", &serde_json::Value::Null),
            (2, run.as_str(), 1, "outcome", &serde_json::json!("applied")),
            (2, run.as_str(), 2, "outcome", &serde_json::json!("failed")),
        ]
    );
    for l in &got {
        assert_eq!(l["plan_digest"], "sha256:abc");
        assert_eq!(l["target"], "bb");
        assert!(l.get("reconciled_by").is_none(), "{l}");
    }
    assert_eq!(got[0]["address"], "bb.user[\"ann\"]");
    assert_eq!(got[0]["after"]["email"], "ann@example.com");
    assert_eq!(got[3]["error"], "bb: POST /users failed: HTTP 500");
}

#[test]
fn a_later_run_settles_intents_left_without_an_outcome_by_what_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    // A format-1 line from an older rollcall, and a line cut short by a crash.
    std::fs::write(
        &path,
        "{\"time\":\"2026-01-01T00:00:00.000Z\",\"outcome\":\"applied\"}\n",
    )
    .unwrap();
    let changes = [create("ann"), create("bo"), create("cy"), create("di")];
    let mut killed = AuditLog::open(&path, "sha256:old").unwrap();
    let killed_run = killed.run().to_owned();
    let started: Vec<(usize, &Change)> = changes.iter().enumerate().collect();
    killed.started(&started).unwrap();
    killed.record(3, &changes[3], &Outcome::Applied);
    drop(killed);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"format_version\":2,\"run\":\"");
    std::fs::write(&path, text).unwrap();

    // ann landed, bo did not, cy landed otherwise; di has its outcome already.
    let mut objects = ResourceMap::new();
    objects.insert(address("ann"), user("ann", "ann@example.com"));
    objects.insert(address("cy"), user("cy", "cy@elsewhere.example"));
    let live = BTreeMap::from([("bb".to_owned(), objects)]);
    let mut next = AuditLog::open(&path, "sha256:new").unwrap();
    let settled = next.reconcile(&live);
    let verdicts: Vec<(&str, usize, Verdict)> = settled
        .iter()
        .map(|r| (r.address.as_str(), r.change, r.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("bb.user[\"ann\"]", 1, Verdict::FoundApplied),
            ("bb.user[\"bo\"]", 2, Verdict::FoundNotApplied),
            ("bb.user[\"cy\"]", 3, Verdict::Unknown),
        ]
    );
    assert!(settled
        .iter()
        .all(|r| r.run == killed_run && r.plan_digest == "sha256:old"));
    // Settled once: a third run finds nothing open.
    assert!(next.reconcile(&live).is_empty());
    let next_run = next.run().to_owned();
    assert_eq!(next.finish(), None);

    let text = std::fs::read_to_string(&path).unwrap();
    let reconciled: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["event"] == "reconciled")
        .collect();
    assert_eq!(reconciled.len(), 3);
    for l in &reconciled {
        assert_eq!(l["run"], killed_run.as_str());
        assert_eq!(l["reconciled_by"], next_run.as_str());
        assert_eq!(l["plan_digest"], "sha256:old");
    }
    assert_eq!(reconciled[0]["outcome"], "found_applied");
    // The line cut short was ended before the next was written.
    assert!(text.contains("\"run\":\"\n{"), "{text}");
}

#[test]
fn an_unread_target_leaves_the_intent_open_for_a_run_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let change = create("ann");
    let mut killed = AuditLog::open(&path, "sha256:old").unwrap();
    killed.started(&[(0, &change)]).unwrap();
    drop(killed);
    let mut next = AuditLog::open(&path, "sha256:new").unwrap();
    assert!(next.reconcile(&BTreeMap::new()).is_empty());
    drop(next);
    let mut reading = AuditLog::open(&path, "sha256:new").unwrap();
    let settled = reading.reconcile(&BTreeMap::from([("bb".to_owned(), ResourceMap::new())]));
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].verdict, Verdict::FoundNotApplied);
}
