//! Faults on demand for the sandbox: added latency, 429s, 503s and dropped connections at
//! configurable rates, so tests can check that clients retry, wait and recover.
//!
//! The settings come from the state file's `faults` section or, overriding it for every
//! sandbox a process starts, from `ROLLCALL_SANDBOX_FAULTS`. Which request gets which fault
//! is a pure function of the seed and the request's sequence number, so a run that sends
//! its requests one after another sees the same faults every time. This module knows
//! nothing of HTTP: each emulator renders the faults in its vendor's shape.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The environment variable that overrides the state file's `faults` for every sandbox
/// started in the process, e.g. `seed=7,latency_ms=5,rate_limited=0.07,dropped=0.06`.
pub const FAULTS_ENV: &str = "ROLLCALL_SANDBOX_FAULTS";

/// How often the sandbox misbehaves, and how. Every rate is the fraction of requests
/// (0 to 1) that get that fault; the rates together must not exceed 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Same seed and same order of requests, same faults.
    #[serde(skip_serializing_if = "is_zero")]
    pub seed: u64,
    /// Added to every authenticated request before it is answered, faulted or not.
    #[serde(skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// Answered 429, as the vendor's rate limiter does.
    #[serde(skip_serializing_if = "is_zero_rate")]
    pub rate_limited: f64,
    /// Answered 503, the request not handled.
    #[serde(skip_serializing_if = "is_zero_rate")]
    pub unavailable: f64,
    /// Connection closed without an answer: half before the request is handled, half
    /// after (the change is made, the answer is lost).
    #[serde(skip_serializing_if = "is_zero_rate")]
    pub dropped: f64,
    /// `Retry-After` on 429 and 503, in seconds.
    #[serde(skip_serializing_if = "is_default_retry_after")]
    pub retry_after_secs: u64,
}

/// No faults: no latency, every rate 0, `Retry-After: 1` should a rate be set.
impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            latency_ms: 0,
            rate_limited: 0.0,
            unavailable: 0.0,
            dropped: 0.0,
            retry_after_secs: default_retry_after(),
        }
    }
}

// Rates are validated finite (never NaN) before a config is used, so equality is total.
impl Eq for FaultConfig {}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn is_zero_rate(r: &f64) -> bool {
    *r == 0.0
}
fn default_retry_after() -> u64 {
    1
}
fn is_default_retry_after(n: &u64) -> bool {
    *n == default_retry_after()
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 429 with `Retry-After` and the rate limiter's headers; nothing changes.
    RateLimited,
    /// 503 with `Retry-After`; nothing changes.
    Unavailable,
    /// The connection is closed before the request is handled; nothing changes.
    DroppedBefore,
    /// The request is handled, then the connection is closed instead of answering: the
    /// change is made but the client cannot know it.
    DroppedAfter,
}

/// Settings that cannot be used, or a `ROLLCALL_SANDBOX_FAULTS` that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("{key} is {value}: a rate is a fraction between 0 and 1")]
    RateOutOfRange { key: &'static str, value: f64 },
    #[error("the rates add up to {sum}, more than 1 (every request faulted at most once)")]
    RatesOverOne { sum: f64 },
    #[error("{FAULTS_ENV}: `{part}`: {reason}")]
    Env { part: String, reason: String },
}

/// Slack for rates written as decimals whose binary sum lands just above 1
/// (0.1 + 0.2 + 0.7).
const SUM_TOLERANCE: f64 = 1e-9;

impl FaultConfig {
    /// Whether the sandbox misbehaves at all.
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0 || self.rate_limited > 0.0 || self.unavailable > 0.0 || self.dropped > 0.0
    }

    /// Checks every rate is in 0..=1 and that they add up to at most 1.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (key, value) in self.rates() {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultError::RateOutOfRange { key, value });
            }
        }
        let sum: f64 = self.rates().iter().map(|(_, r)| r).sum();
        if sum > 1.0 + SUM_TOLERANCE {
            // Rounded for the message: 0.1 + 0.2 + 0.8 is 1.1000000000000001.
            let sum = (sum * 1e6).round() / 1e6;
            return Err(FaultError::RatesOverOne { sum });
        }
        Ok(())
    }

    fn rates(&self) -> [(&'static str, f64); 3] {
        [
            ("rate_limited", self.rate_limited),
            ("unavailable", self.unavailable),
            ("dropped", self.dropped),
        ]
    }

    /// The fault for the request numbered `sequence` (0 for the first request the sandbox
    /// counts), or `None` to answer it normally. Deterministic in (seed, sequence).
    pub fn fault_for(&self, sequence: u64) -> Option<Fault> {
        let first = splitmix64(self.seed ^ splitmix64(sequence));
        let second = splitmix64(first);
        let draw = unit(first);
        let mut threshold = self.rate_limited;
        if draw < threshold {
            return Some(Fault::RateLimited);
        }
        threshold += self.unavailable;
        if draw < threshold {
            return Some(Fault::Unavailable);
        }
        threshold += self.dropped;
        if draw < threshold {
            // A second, independent draw picks the flavour, so the drop rate alone
            // decides how many requests are dropped.
            return Some(if unit(second) < 0.5 {
                Fault::DroppedBefore
            } else {
                Fault::DroppedAfter
            });
        }
        None
    }

    /// Parses the compact form of `ROLLCALL_SANDBOX_FAULTS`: comma-separated `key=value`
    /// pairs with the state file's keys (unset keys keep their defaults), or `off` for no
    /// faults at all. Errors name the variable and the part that is wrong.
    pub fn parse_compact(text: &str) -> Result<FaultConfig, FaultError> {
        let text = text.trim();
        let mut config = FaultConfig::default();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(config);
        }
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let env_err = |reason: String| FaultError::Env {
                part: part.to_owned(),
                reason,
            };
            let Some((key, value)) = part.split_once('=') else {
                return Err(env_err("expected key=value".to_owned()));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(env_err(format!("{key} is given twice")));
            }
            seen.push(key);
            let whole = || {
                value
                    .parse::<u64>()
                    .map_err(|_| env_err(format!("{key} takes a whole number, not `{value}`")))
            };
            let rate = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| env_err(format!("{key} takes a fraction between 0 and 1, not `{value}`")))
            };
            match key {
                "seed" => config.seed = whole()?,
                "latency_ms" => config.latency_ms = whole()?,
                "retry_after_secs" => config.retry_after_secs = whole()?,
                "rate_limited" => config.rate_limited = rate()?,
                "unavailable" => config.unavailable = rate()?,
                "dropped" => config.dropped = rate()?,
                _ => {
                    return Err(env_err(format!(
                        "unknown key `{key}` (known: seed, latency_ms, rate_limited, unavailable, dropped, \
                         retry_after_secs)"
                    )))
                }
            }
        }
        config.validate().map_err(|e| FaultError::Env {
            part: text.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(config)
    }

    /// The override from `ROLLCALL_SANDBOX_FAULTS`: `None` when the variable is unset or
    /// empty (the state file decides), the parsed settings otherwise.
    pub fn from_env() -> Result<Option<FaultConfig>, FaultError> {
        match std::env::var(FAULTS_ENV) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Self::parse_compact(&text).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(FaultError::Env {
                part: "(value)".to_owned(),
                reason: "not valid UTF-8".to_owned(),
            }),
        }
    }
}

/// One line, for `sandbox serve` to print at startup: the seed, then only the faults that
/// are on (`seed 7, latency 5 ms, 7% answered 429, 6% dropped, Retry-After 1 s`).
impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rounded to hundredths of a percent: 0.07 * 100 is 7.000000000000001.
        let percent = |r: f64| (r * 10_000.0).round() / 100.0;
        write!(f, "seed {}", self.seed)?;
        if self.latency_ms > 0 {
            write!(f, ", latency {} ms", self.latency_ms)?;
        }
        for (rate, what) in [
            (self.rate_limited, "answered 429"),
            (self.unavailable, "answered 503"),
            (self.dropped, "dropped"),
        ] {
            if rate > 0.0 {
                write!(f, ", {}% {what}", percent(rate))?;
            }
        }
        if self.rate_limited > 0.0 || self.unavailable > 0.0 {
            write!(f, ", Retry-After {} s", self.retry_after_secs)?;
        }
        Ok(())
    }
}

/// How many faults a sandbox injected, by kind, out of how many requests it drew for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests the faults applied to (authenticated ones, while faults were on).
    pub requests: u64,
    pub rate_limited: u64,
    pub unavailable: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
}

impl FaultCounts {
    /// Every injected fault, latency aside.
    pub fn total(&self) -> u64 {
        self.rate_limited + self.unavailable + self.dropped_before + self.dropped_after
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} requests faulted: {} answered 429, {} answered 503, {} dropped before and {} after handling",
            self.total(),
            self.requests,
            self.rate_limited,
            self.unavailable,
            self.dropped_before,
            self.dropped_after,
        )
    }
}

/// The settings in force for one sandbox, with its request counter and tallies.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    config: FaultConfig,
    next_sequence: u64,
    counts: FaultCounts,
}

impl FaultInjector {
    pub fn new(config: FaultConfig) -> Self {
        FaultInjector {
            config,
            next_sequence: 0,
            counts: FaultCounts::default(),
        }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    pub fn counts(&self) -> FaultCounts {
        self.counts
    }

    /// Numbers the next request and returns its fault, tallied. `None` also when faults
    /// are off, and then the request is not counted.
    pub fn next_fault(&mut self) -> Option<Fault> {
        if !self.config.is_active() {
            return None;
        }
        let fault = self.config.fault_for(self.next_sequence);
        self.next_sequence += 1;
        self.counts.requests += 1;
        match fault {
            Some(Fault::RateLimited) => self.counts.rate_limited += 1,
            Some(Fault::Unavailable) => self.counts.unavailable += 1,
            Some(Fault::DroppedBefore) => self.counts.dropped_before += 1,
            Some(Fault::DroppedAfter) => self.counts.dropped_after += 1,
            None => {}
        }
        fault
    }
}

/// splitmix64's output function: a well-mixed 64-bit value from any input, so nearby
/// (seed, sequence) pairs give unrelated draws. Written here rather than taking a PRNG
/// crate for one function.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from the top 53 bits, the precision of an f64.
fn unit(x: u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (x >> 11) as f64 * SCALE
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn config(rate_limited: f64, unavailable: f64, dropped: f64) -> FaultConfig {
        FaultConfig {
            seed: 42,
            rate_limited,
            unavailable,
            dropped,
            retry_after_secs: 1,
            ..FaultConfig::default()
        }
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let a = config(0.2, 0.2, 0.2);
        let b = FaultConfig { seed: 43, ..a.clone() };
        let run = |c: &FaultConfig| (0..200).map(|n| c.fault_for(n)).collect::<Vec<_>>();
        assert_eq!(run(&a), run(&a));
        assert_ne!(run(&a), run(&b));
    }

    #[test]
    fn rates_are_roughly_respected() {
        let c = config(0.1, 0.2, 0.3);
        let mut injector = FaultInjector::new(c);
        for _ in 0..100_000 {
            injector.next_fault();
        }
        let n = injector.counts();
        assert_eq!(n.requests, 100_000);
        let near = |count: u64, rate: f64| (count as f64 / 100_000.0 - rate).abs() < 0.01;
        assert!(near(n.rate_limited, 0.1), "{n:?}");
        assert!(near(n.unavailable, 0.2), "{n:?}");
        assert!(near(n.dropped_before, 0.15), "{n:?}");
        assert!(near(n.dropped_after, 0.15), "{n:?}");
    }

    #[test]
    fn extreme_rates() {
        assert!((0..1000).all(|n| config(0.0, 0.0, 0.0).fault_for(n).is_none()));
        assert!((0..1000).all(|n| config(1.0, 0.0, 0.0).fault_for(n) == Some(Fault::RateLimited)));
        assert!((0..1000).all(|n| config(0.0, 1.0, 0.0).fault_for(n) == Some(Fault::Unavailable)));
        assert!((0..1000).all(|n| matches!(
            config(0.0, 0.0, 1.0).fault_for(n),
            Some(Fault::DroppedBefore | Fault::DroppedAfter)
        )));
    }

    #[test]
    fn inactive_config_counts_nothing() {
        let mut injector = FaultInjector::new(FaultConfig::default());
        assert_eq!(injector.next_fault(), None);
        assert_eq!(injector.counts(), FaultCounts::default());
    }

    #[test]
    fn validation() {
        assert!(config(0.3, 0.3, 0.4).validate().is_ok());
        assert!(config(0.1, 0.2, 0.7).validate().is_ok());
        assert_eq!(
            config(0.5, 0.5, 0.5).validate(),
            Err(FaultError::RatesOverOne { sum: 1.5 })
        );
        assert!(matches!(
            config(1.5, 0.0, 0.0).validate(),
            Err(FaultError::RateOutOfRange {
                key: "rate_limited",
                ..
            })
        ));
        assert_eq!(
            config(0.1, 0.2, 0.8).validate(),
            Err(FaultError::RatesOverOne { sum: 1.1 })
        );
        assert!(config(0.0, -0.1, 0.0).validate().is_err());
        assert!(config(0.0, 0.0, f64::NAN).validate().is_err());
    }

    #[test]
    fn compact_form() {
        let c = FaultConfig::parse_compact(
            "seed=7, latency_ms=5,rate_limited=0.07,unavailable=0.07,dropped=0.06,retry_after_secs=0",
        )
        .unwrap();
        assert_eq!(
            c,
            FaultConfig {
                seed: 7,
                latency_ms: 5,
                rate_limited: 0.07,
                unavailable: 0.07,
                dropped: 0.06,
                retry_after_secs: 0,
            }
        );
        let partial = FaultConfig::parse_compact("dropped=0.5").unwrap();
        assert_eq!(partial.retry_after_secs, 1);
        assert_eq!(partial.seed, 0);
        assert!(!FaultConfig::parse_compact("off").unwrap().is_active());
    }

    #[test]
    fn one_line_summary_names_only_the_faults_that_are_on() {
        let c = FaultConfig::parse_compact("seed=7,latency_ms=5,rate_limited=0.07,dropped=0.065").unwrap();
        assert_eq!(
            c.to_string(),
            "seed 7, latency 5 ms, 7% answered 429, 6.5% dropped, Retry-After 1 s"
        );
        let c = FaultConfig::parse_compact("dropped=1").unwrap();
        assert_eq!(c.to_string(), "seed 0, 100% dropped");
    }

    #[test]
    fn compact_form_errors_name_the_variable_and_the_part() {
        for (text, part) in [
            ("seed=x", "seed=x"),
            ("rate_limited=2", "rate_limited=2"),
            ("rate_limited=nan", "rate_limited=nan"),
            ("latency_ms=-1", "latency_ms=-1"),
            ("seed=1,bogus=3", "bogus=3"),
            ("seed", "seed"),
            ("seed=1,seed=2", "seed=2"),
        ] {
            let message = FaultConfig::parse_compact(text).unwrap_err().to_string();
            assert!(message.starts_with("ROLLCALL_SANDBOX_FAULTS: "), "{message}");
            assert!(message.contains(&format!("`{part}`")), "{text}: {message}");
        }
        let message = FaultConfig::parse_compact("rate_limited=0.6,dropped=0.6")
            .unwrap_err()
            .to_string();
        assert!(message.contains("more than 1"), "{message}");
    }
}
