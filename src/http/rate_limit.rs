//! What a server says about its rate limit, read from an answer's headers: how long to
//! wait before asking again, and whether its quota is used up until some reset.
//!
//! - `Retry-After` (RFC 9110 §10.2.3): seconds or an HTTP date, on a 429 or a 503.
//! - `X-RateLimit-Remaining` with `X-RateLimit-Reset` (Atlassian Cloud: an ISO 8601 time;
//!   GitHub and others: epoch seconds; some: seconds from now), and Data Center's token
//!   bucket, which refills `X-RateLimit-FillRate` tokens every
//!   `X-RateLimit-Interval-Seconds`. Okta's `X-Rate-Limit-Remaining` with
//!   `X-Rate-Limit-Reset` (epoch seconds) are read the same way.
//! - The IETF draft's fields: `RateLimit-Remaining` with `RateLimit-Reset` (seconds; the
//!   early drafts and Buildkite, which also sends a per-user `RateLimit-User-*` pair), and
//!   the structured `RateLimit` of later drafts, as a dictionary
//!   (`limit=100, remaining=0, reset=30`) or as one item per policy
//!   (`"default";r=0;t=30`).
//!
//! Dates go through httpdate and jiff, which bound the years a header can name, so no
//! header can overflow the arithmetic.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// How long the server asks a retryable answer's request to wait before it is sent again.
///
/// `Retry-After` comes first: every Atlassian product sends it with a 429, and some with
/// a 503. On a 429 without it: the reset of a used-up quota, then any `X-RateLimit-Reset`
/// or `RateLimit-Reset`, then Data Center's fill rate. Only on a 429 because some servers
/// send the reset of an hourly window with every answer, which says nothing about when a
/// 503 will pass.
pub(super) fn retry_wait(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(wait) = header("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    exhausted_for(headers, now)
        .or_else(|| header("x-ratelimit-reset").and_then(|v| parse_rate_limit_reset(v, now)))
        .or_else(|| header("x-rate-limit-reset").and_then(|v| parse_rate_limit_reset(v, now)))
        .or_else(|| header("ratelimit-reset").and_then(parse_seconds))
        .or_else(|| fill_time(headers))
}

/// When an answer says the quota is used up (remaining 0), how long until it resets: no
/// request to this target should go before then. The longest wait of the quotas used up,
/// `None` when none is, or when one is but the server does not say until when.
pub(super) fn exhausted_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A quota can be overdrawn: Buildkite charges a query's actual points after running
    // it, so what is left may read `-14`. Below zero is used up as much as zero.
    let used_up = |name: &str| {
        header(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|n| n <= 0)
    };
    let mut waits: Vec<Duration> = Vec::new();
    if used_up("x-ratelimit-remaining") {
        waits.extend(
            header("x-ratelimit-reset")
                .and_then(|v| parse_rate_limit_reset(v, now))
                .or_else(|| fill_time(headers)),
        );
    }
    // Okta spells them with a hyphen more, the reset in epoch seconds.
    if used_up("x-rate-limit-remaining") {
        waits.extend(header("x-rate-limit-reset").and_then(|v| parse_rate_limit_reset(v, now)));
    }
    for scope in ["ratelimit", "ratelimit-user"] {
        if used_up(&format!("{scope}-remaining")) {
            waits.extend(header(&format!("{scope}-reset")).and_then(parse_seconds));
        }
    }
    waits.extend(header("ratelimit").and_then(parse_ratelimit_field));
    waits.into_iter().max()
}

/// Data Center's bucket: one token's time.
fn fill_time(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let fill_rate: f64 = header("x-ratelimit-fillrate")?.trim().parse().ok()?;
    let interval: f64 = header("x-ratelimit-interval-seconds")?.trim().parse().ok()?;
    if fill_rate > 0.0 {
        Duration::try_from_secs_f64(interval / fill_rate).ok()
    } else {
        None
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past
/// means now.
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    parse_seconds(value).or_else(|| parse_http_date(value).map(|t| until(t, now)))
}

/// Whole seconds from now, as `Retry-After` and the IETF fields give them. Digits too
/// many for a u64 are still a (very long) wait.
fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().map(Duration::from_secs).unwrap_or(Duration::MAX))
}

/// `X-RateLimit-Reset`: an ISO 8601 time (Atlassian Cloud: `yyyy-MM-ddTHH:mmZ`), or a
/// number: epoch seconds (GitHub and others) when it is large enough to be one, else
/// seconds from now.
pub(super) fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        // 10^9 seconds is 2001 as a time and 31 years as a wait.
        return if n >= 1e9 {
            let at = SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(n).ok()?)?;
            Some(until(at, now))
        } else {
            Duration::try_from_secs_f64(n).ok()
        };
    }
    parse_iso8601(value).map(|t| until(t, now))
}

/// The structured `RateLimit` field: the wait until the latest reset among the policies
/// with nothing remaining. The dictionary form (`limit=100, remaining=0, reset=30`)
/// describes one policy across its members; the list form gives each policy as an item
/// with parameters (`"default";r=0;t=30, "daily";r=5;t=3600`).
fn parse_ratelimit_field(value: &str) -> Option<Duration> {
    // Parameters of one policy, by name: `remaining`/`r` and `reset`/`t`.
    let policy = |params: &mut dyn Iterator<Item = &str>| {
        let (mut remaining, mut reset) = (None, None);
        for param in params {
            let Some((key, v)) = param.split_once('=') else {
                continue;
            };
            match key.trim() {
                "remaining" | "r" => remaining = v.trim().parse::<u64>().ok(),
                "reset" | "t" => reset = parse_seconds(v),
                _ => {}
            }
        }
        if remaining == Some(0) {
            reset
        } else {
            None
        }
    };
    if value.contains(';') {
        value.split(',').filter_map(|item| policy(&mut item.split(';'))).max()
    } else {
        policy(&mut value.split(','))
    }
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

/// An HTTP date in any of the three forms RFC 9110 §5.6.7 asks recipients to accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
/// `Sun Nov  6 08:49:37 1994`. `httpdate` takes years 1970 to 9999 only, so no header can
/// overflow the arithmetic, and refuses a weekday that does not match the date.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value).ok()
}

/// An ISO 8601 date and time: `2024-05-01T12:34Z`, with optional seconds and fraction, and
/// `Z`, `±HH:MM`, `±HHMM` or `±HH` for the zone (none is read as UTC). `None` for a date
/// alone, a field out of range or a time before 1970; jiff bounds years to ±9999, so a
/// server's header cannot overflow anything.
fn parse_iso8601(value: &str) -> Option<SystemTime> {
    // jiff reads a date alone as its midnight; a reset time names the time of day.
    if !value.contains(['T', 't', ' ']) {
        return None;
    }
    let at = match value.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        // No zone: UTC. jiff refuses to read a civil time from a string with `Z`, and
        // a malformed zone fails both readings.
        Err(_) => jiff::tz::Offset::UTC
            .to_timestamp(value.parse::<jiff::civil::DateTime>().ok()?)
            .ok()?,
    };
    SystemTime::try_from(at).ok().filter(|t| *t >= SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 1994-11-06T08:49:37Z, RFC 9110's example date.
    const NOV_6_1994: u64 = 784_111_777;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_takes_seconds_and_all_three_http_date_forms() {
        let now = at(NOV_6_1994 - 10);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)), "{date}");
        }
        // A date already past means now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(NOV_6_1994 + 5)),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::MAX));
        for junk in [
            "",
            "soon",
            "-5",
            "1.5",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            // The weekday must match the date.
            "Mon, 06 Nov 1994 08:49:37 GMT",
            // Years that would overflow the calendar arithmetic.
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
        for junk in [
            "99999999999999-01-01T00:00Z",
            "-9999999999-01-01T00:00Z",
            "2026-11-23T12:00+99:99",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_iso8601(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn rate_limit_reset_takes_iso_times_epoch_seconds_and_deltas() {
        let now = at(NOV_6_1994 - 37);
        // Atlassian Cloud's form, to the minute.
        assert_eq!(parse_rate_limit_reset("1994-11-06T08:49Z", now), Some(Duration::ZERO));
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:50Z", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37Z", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37.500Z", now),
            Some(Duration::from_millis(37_500))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T10:49:37+02:00", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T07:49:37-0100", now),
            Some(Duration::from_secs(37))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-06T08:49:37", now),
            Some(Duration::from_secs(37))
        );
        // Epoch seconds (GitHub's form) and small numbers as seconds from now.
        let epoch = at(1_700_000_000);
        assert_eq!(
            parse_rate_limit_reset("1700000042", epoch),
            Some(Duration::from_secs(42))
        );
        assert_eq!(parse_rate_limit_reset("1699999999", epoch), Some(Duration::ZERO));
        assert_eq!(parse_rate_limit_reset("30", epoch), Some(Duration::from_secs(30)));
        for junk in [
            "",
            "later",
            "-3",
            "NaN",
            "1994-13-06T08:49Z",
            "1994-11-06",
            "1994-11-06T08:49+5",
        ] {
            assert_eq!(parse_rate_limit_reset(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_retry_wait_prefers_retry_after_and_reads_rate_limit_headers_only_on_429() {
        let now = at(1_700_000_000);
        let tmr = StatusCode::TOO_MANY_REQUESTS;
        let both = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1700000020")]);
        assert_eq!(retry_wait(tmr, &both, now), Some(Duration::from_secs(3)));
        let reset = headers(&[("x-ratelimit-reset", "1700000020")]);
        assert_eq!(retry_wait(tmr, &reset, now), Some(Duration::from_secs(20)));
        assert_eq!(retry_wait(StatusCode::SERVICE_UNAVAILABLE, &reset, now), None);
        assert_eq!(
            retry_wait(StatusCode::SERVICE_UNAVAILABLE, &both, now),
            Some(Duration::from_secs(3))
        );
        // Data Center's bucket: 5 tokens a second is one token every 200 ms.
        let bucket = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-fillrate", "5"),
            ("x-ratelimit-interval-seconds", "1"),
        ]);
        assert_eq!(retry_wait(tmr, &bucket, now), Some(Duration::from_millis(200)));
        // The IETF draft's reset, in seconds (Buildkite sends no Retry-After).
        let ietf = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "42")]);
        assert_eq!(retry_wait(tmr, &ietf, now), Some(Duration::from_secs(42)));
        assert_eq!(retry_wait(tmr, &HeaderMap::new(), now), None);
    }

    #[test]
    fn a_used_up_quota_is_read_from_every_scheme_and_the_longest_reset_wins() {
        let now = at(1_700_000_000);
        let wait = |pairs: &[(&'static str, &str)]| exhausted_for(&headers(pairs), now);
        // X-RateLimit: remaining 0 and the reset as epoch seconds or an ISO time.
        assert_eq!(
            wait(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000030")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            wait(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "2023-11-14T22:13:40Z")
            ]),
            Some(Duration::from_secs(20))
        );
        // Quota left: no hold, whatever the reset.
        assert_eq!(
            wait(&[("x-ratelimit-remaining", "17"), ("x-ratelimit-reset", "1700000030")]),
            None
        );
        // The early IETF drafts and Buildkite, organisation and user scopes.
        assert_eq!(
            wait(&[
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "12"),
                ("ratelimit-user-remaining", "0"),
                ("ratelimit-user-reset", "40"),
            ]),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            wait(&[
                ("ratelimit-remaining", "3"),
                ("ratelimit-user-remaining", "0"),
                ("ratelimit-user-reset", "9")
            ]),
            Some(Duration::from_secs(9))
        );
        // The structured field: a dictionary, and a list of policies.
        assert_eq!(
            wait(&[("ratelimit", "limit=100, remaining=0, reset=30")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait(&[("ratelimit", "limit=100, remaining=1, reset=30")]), None);
        assert_eq!(
            wait(&[(
                "ratelimit",
                "\"burst\";r=0;t=5, \"daily\";r=0;t=3600, \"hourly\";r=7;t=60"
            )]),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(wait(&[("ratelimit", "\"default\";r=50;t=30")]), None);
        // Used up without a reset says nothing about when to come back.
        assert_eq!(wait(&[("x-ratelimit-remaining", "0")]), None);
        // Okta's spelling.
        assert_eq!(
            wait(&[("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "1700000030")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "soon")]), None);
        // Overdrawn (Buildkite charges after running a query) is used up too.
        assert_eq!(
            wait(&[("ratelimit-remaining", "-14"), ("ratelimit-reset", "20")]),
            Some(Duration::from_secs(20))
        );
        assert_eq!(wait(&[]), None);
    }
}
