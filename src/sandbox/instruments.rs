//! What every sandbox emulator keeps beside its state: the log of the requests it received
//! and the injected faults in force. Each emulator's `Shared` holds one `Instruments` and
//! hands it out (`Shared::instruments`), so the Data Center and SCIM emulators log, draw
//! faults and take the `ROLLCALL_SANDBOX_FAULTS` override the same way; only how a fault
//! looks on the wire is each emulator's own.

use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::Request;

use crate::sandbox::faults::{Fault, FaultConfig, FaultCounts, FaultError, FaultInjector};

/// The request log and the fault injector of one running emulator.
pub struct Instruments {
    requests: Mutex<Vec<String>>,
    faults: Mutex<FaultInjector>,
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
            requests: Mutex::new(Vec::new()),
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

    /// One `"METHOD /path?query"` per request received, in arrival order, refused ones too.
    pub fn requests(&self) -> Vec<String> {
        self.lock_requests().clone()
    }

    /// Logs `request` as `"METHOD /path?query"`.
    pub fn record(&self, request: &Request) {
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_owned(), |pq| pq.as_str().to_owned());
        self.lock_requests().push(format!("{} {}", request.method(), target));
    }

    // Neither lock guards anything a panic could leave half-changed (a push, a swap, a
    // counter), so a poisoned one is still safe to use.
    fn lock_requests(&self) -> MutexGuard<'_, Vec<String>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_faults(&self) -> MutexGuard<'_, FaultInjector> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
