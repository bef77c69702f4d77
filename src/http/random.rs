//! The operating system's randomness, through getrandom: the jitter that spreads retries
//! and paced requests, and secrets nobody may guess.

use std::time::Duration;

/// A duration drawn uniformly from `0..=max`. Jitter spreads out clients, it guards
/// nothing: should the operating system's random source fail, no jitter is still a wait.
pub(super) fn jitter(max: Duration) -> Duration {
    let r = getrandom::u64().unwrap_or(0);
    let nanos = max.as_nanos().saturating_mul(u128::from(r)) / u128::from(u64::MAX);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `2 * bytes` hex digits from the operating system's random source, for secrets nobody
/// may guess (a sandbox's token, the password of a user created without notification).
pub fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_as_long_as_asked_and_never_repeats() {
        let a = random_hex(32).unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{a}"
        );
        assert_ne!(a, random_hex(32).unwrap());
        assert_eq!(random_hex(0).unwrap(), "");
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let max = Duration::from_millis(100);
        assert!((0..100).all(|_| jitter(max) <= max));
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
