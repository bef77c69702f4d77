//! What every sandbox emulator keeps beside its state: the log of the requests it received
//! and the injected faults in force. The host's `Shared` holds one `Instruments` per
//! running emulator and hands it out (`Shared::instruments`), so every emulator logs, draws
//! faults and takes the `ROLLCALL_SANDBOX_FAULTS` override the same way; only how a fault
//! looks on the wire is each emulator's own (`Emulator::refuse`).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::Request;

use crate::sandbox::faults::{Fault, FaultConfig, FaultCounts, FaultError, FaultInjector};

/// How many requests the log keeps: the most recent ones. A `sandbox serve` left running
/// for days must not grow without bound; tests and benchmarks stay far below this.
pub const LOG_CAPACITY: usize = 10_000;

/// How much of a request's path and query the log keeps (at most `LOG_CAPACITY` times
/// this in all): a URL can be as long as the server accepts.
pub const LOG_ENTRY_MAX: usize = 1_000;

/// The request log and the fault injector of one running emulator.
pub struct Instruments {
    requests: Mutex<RequestLog>,
    faults: Mutex<FaultInjector>,
}

/// The most recent requests, and how many arrived in all: the count stays exact when old
/// entries are dropped.
#[derive(Default)]
struct RequestLog {
    recent: VecDeque<String>,
    total: usize,
}

/// The fault drawn for one request, with the latency to add and the `Retry-After` to give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub fault: Option<Fault>,
    pub latency_ms: u64,
    pub retry_after_secs: u64,
}

impl Instruments {
    /// An empty log, injecting `faults` (a state file's `faults` section, or none).
    pub fn new(faults: FaultConfig) -> Self {
        Instruments {
            requests: Mutex::new(RequestLog::default()),
            faults: Mutex::new(FaultInjector::new(faults)),
        }
    }

    /// Replaces the faults in force, and restarts their request numbering and counts. The
    /// state's `faults` section is left as it is, so saving the state never writes these.
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), FaultError> {
        config.validate()?;
        *self.lock_faults() = FaultInjector::new(config);
        Ok(())
    }

    /// Applies `ROLLCALL_SANDBOX_FAULTS` if it is set: every sandbox the process starts
    /// calls this, so the variable overrides the state file for all of them.
    pub fn apply_env_faults(&self) -> Result<(), FaultError> {
        match FaultConfig::from_env()? {
            Some(config) => self.set_faults(config),
            None => Ok(()),
        }
    }

    /// The faults in force (all off when none are set).
    pub fn faults(&self) -> FaultConfig {
        self.lock_faults().config().clone()
    }

    /// How many faults were injected so far, by kind.
    pub fn fault_counts(&self) -> FaultCounts {
        self.lock_faults().counts()
    }

    /// The next request's fault, drawn under one lock with the settings it goes with, so
    /// a concurrent `set_faults` cannot pair one configuration's fault with another's wait.
    pub fn draw_fault(&self) -> Draw {
        let mut injector = self.lock_faults();
        let fault = injector.next_fault();
        let config = injector.config();
        Draw {
            fault,
            latency_ms: config.latency_ms,
            retry_after_secs: config.retry_after_secs,
        }
    }

    /// One `"METHOD /path?query"` per request received, in arrival order, refused ones too:
    /// the last `LOG_CAPACITY` of them, each cut to `LOG_ENTRY_MAX` bytes (ending in `…`).
    pub fn requests(&self) -> Vec<String> {
        self.lock_requests().recent.iter().cloned().collect()
    }

    /// How many requests arrived in all, logged or since dropped from the log.
    pub fn request_count(&self) -> usize {
        self.lock_requests().total
    }

    /// How many of the oldest requests the log no longer holds.
    pub fn dropped_requests(&self) -> usize {
        let log = self.lock_requests();
        log.total - log.recent.len()
    }

    /// Logs `request` as `"METHOD /path?query"`.
    pub fn record(&self, request: &Request) {
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path(), |pq| pq.as_str());
        let mut entry = format!("{} {}", request.method(), target);
        if crate::text::cut(&mut entry, LOG_ENTRY_MAX) {
            entry.push('…');
        }
        let mut log = self.lock_requests();
        if log.recent.len() == LOG_CAPACITY {
            log.recent.pop_front();
        }
        log.recent.push_back(entry);
        log.total += 1;
    }

    // Neither lock guards anything a panic could leave half-changed (a push, a swap, a
    // counter), so a poisoned one is still safe to use.
    fn lock_requests(&self) -> MutexGuard<'_, RequestLog> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_faults(&self) -> MutexGuard<'_, FaultInjector> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder()
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap_or_default()
    }

    #[test]
    fn the_log_keeps_the_latest_requests_and_counts_them_all() {
        let instruments = Instruments::new(FaultConfig::default());
        for n in 0..LOG_CAPACITY + 5 {
            instruments.record(&request(&format!("/r/{n}")));
        }
        let log = instruments.requests();
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log.first().map(String::as_str), Some("GET /r/5"));
        assert_eq!(instruments.request_count(), LOG_CAPACITY + 5);
        assert_eq!(instruments.dropped_requests(), 5);
    }

    #[test]
    fn long_targets_are_cut() {
        let instruments = Instruments::new(FaultConfig::default());
        instruments.record(&request(&format!("/x?filter={}", "%C3%A9".repeat(LOG_ENTRY_MAX))));
        let log = instruments.requests();
        assert!(log[0].len() <= LOG_ENTRY_MAX + '…'.len_utf8(), "{}", log[0].len());
        assert!(log[0].ends_with('…'));
    }
}
