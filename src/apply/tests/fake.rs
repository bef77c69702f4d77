//! The in-memory provider the scheduler tests run against, and what it records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::model::{ResourceId, ResourceMap};
use crate::plan::Action;
use crate::provider::{BoxFuture, ProviderError};

/// What a test provider saw: each `apply` call's batch in the order the calls began,
/// and when each call began and ended relative to the others.
#[derive(Default)]
pub(super) struct Probe {
    log: Mutex<Log>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[derive(Default)]
pub(super) struct Log {
    calls: Vec<Vec<Address>>,
    events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    Start(usize),
    End(usize),
}

impl Probe {
    pub(super) fn calls(&self) -> Vec<Vec<Address>> {
        self.log.lock().unwrap().calls.clone()
    }
    pub(super) fn events(&self) -> Vec<Event> {
        self.log.lock().unwrap().events.clone()
    }
    pub(super) fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }
}

/// An in-memory provider: applies whatever it is given after a short pause (so calls
/// overlap when the scheduler lets them), fails any batch holding a chosen address,
/// and can set the run's stop flag from inside a call, so an interruption lands at a
/// known point.
pub(super) struct Fake {
    target: &'static str,
    limit: usize,
    key: fn(&Change) -> Option<String>,
    admits: fn(&[&Change], &Change) -> bool,
    fail: BTreeSet<Address>,
    stop_at: Option<(Address, Arc<AtomicBool>)>,
    /// Its preflight fails, saying why.
    preflight: Option<&'static str>,
    probe: Arc<Probe>,
}

/// Memberships batch per group and direction, as the real providers do.
pub(super) fn by_group(c: &Change) -> Option<String> {
    match (&c.address.id, c.action) {
        (ResourceId::Membership { group, .. }, Action::Delete) => Some(format!("remove-users {group}")),
        (ResourceId::Membership { group, .. }, _) => Some(format!("add-users {group}")),
        _ => None,
    }
}

/// Every new user shares one key, so only height keeps them apart.
pub(super) fn new_users(c: &Change) -> Option<String> {
    matches!((&c.address.id, c.action), (ResourceId::User { .. }, Action::Create)).then(|| "users".to_owned())
}

impl Fake {
    pub(super) fn new(target: &'static str) -> (Self, Arc<Probe>) {
        let probe = Arc::new(Probe::default());
        let fake = Fake {
            target,
            limit: usize::MAX,
            key: by_group,
            admits: |_, _| true,
            fail: BTreeSet::new(),
            stop_at: None,
            preflight: None,
            probe: probe.clone(),
        };
        (fake, probe)
    }
    pub(super) fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub(super) fn key(mut self, key: fn(&Change) -> Option<String>) -> Self {
        self.key = key;
        self
    }
    pub(super) fn admits(mut self, admits: fn(&[&Change], &Change) -> bool) -> Self {
        self.admits = admits;
        self
    }
    pub(super) fn failing(mut self, at: &[Address]) -> Self {
        self.fail.extend(at.iter().cloned());
        self
    }
    pub(super) fn preflight_fails(mut self, why: &'static str) -> Self {
        self.preflight = Some(why);
        self
    }
    pub(super) fn stop_at(mut self, at: Address, stop: &Arc<AtomicBool>) -> Self {
        self.stop_at = Some((at, stop.clone()));
        self
    }
}

impl Provider for Fake {
    fn read(&self) -> BoxFuture<'_, Result<ResourceMap, ProviderError>> {
        Box::pin(async { Ok(ResourceMap::new()) })
    }
    fn batch_key(&self, change: &Change) -> Option<String> {
        (self.key)(change)
    }
    fn batch_limit(&self) -> usize {
        self.limit
    }
    fn batch_admits(&self, batch: &mut dyn Iterator<Item = &Change>, change: &Change) -> bool {
        (self.admits)(&batch.collect::<Vec<_>>(), change)
    }
    fn preflight<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match (self.preflight, changes.first()) {
                (Some(why), Some(c)) => Err(ProviderError::Unsupported {
                    target: self.target.to_owned(),
                    address: c.address.to_string(),
                    why: why.to_owned(),
                }),
                _ => Ok(()),
            }
        })
    }
    fn apply<'a>(&'a self, changes: &'a [Change]) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let call = {
                let mut log = self.probe.log.lock().unwrap();
                log.calls.push(changes.iter().map(|c| c.address.clone()).collect());
                let call = log.calls.len() - 1;
                log.events.push(Event::Start(call));
                call
            };
            let now = self.probe.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.probe.most_in_flight.fetch_max(now, Ordering::SeqCst);
            if let Some((at, stop)) = &self.stop_at {
                if changes.iter().any(|c| &c.address == at) {
                    stop.store(true, Ordering::SeqCst);
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.probe.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.probe.log.lock().unwrap().events.push(Event::End(call));
            match changes.iter().find(|c| self.fail.contains(&c.address)) {
                Some(c) => Err(refusal(&c.address)),
                None => Ok(()),
            }
        })
    }
    fn request_count(&self) -> usize {
        self.probe.calls().len()
    }
    fn retry_count(&self) -> usize {
        0
    }
}

pub(super) fn refusal(at: &Address) -> ProviderError {
    ProviderError::Unsupported {
        target: at.target.to_string(),
        address: at.to_string(),
        why: "refused by the test".into(),
    }
}

pub(super) fn failed(at: &Address) -> Outcome {
    Outcome::Failed(refusal(at).to_string())
}

pub(super) fn skipped(because: &Address) -> Outcome {
    Outcome::Skipped {
        because: because.clone(),
    }
}

pub(super) fn providers(fakes: Vec<Fake>) -> BTreeMap<String, Box<dyn Provider>> {
    fakes
        .into_iter()
        .map(|f| (f.target.to_owned(), Box::new(f) as Box<dyn Provider>))
        .collect()
}
