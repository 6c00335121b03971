//! When to retry a request and how long to wait: pure, so it is tested without a server.
//!
//! Retried: connection errors, timeouts, truncated bodies, HTTP 5xx and 429. Not retried: any
//! other 4xx (the request itself is wrong, or access is refused) and anything that arrived whole
//! but is not what was asked for. The wait before attempt `n` (1-based retry) is
//! `base * 2^(n-1)`, capped at `max_backoff`, with full jitter (a uniform draw between half and
//! all of it) so that many clients do not retry in lockstep. A server's `Retry-After` replaces
//! the computed wait when it is a positive number of seconds or a date in the future; `0`, a
//! negative number or a past date is no hint (some servers send `0` while still limiting). The
//! sum of all waits of one request is capped at `max_total_wait`: past it the request fails with
//! the last error rather than waiting on.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry.
    pub base: Duration,
    /// Largest computed wait between two attempts.
    pub max_backoff: Duration,
    /// Largest total wait for one request, `Retry-After` included.
    pub max_total_wait: Duration,
}

/// What an attempt's outcome means for the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done: success, or a failure no retry can fix.
    Final,
    /// Worth another attempt.
    Retryable,
}

/// Whether an HTTP status is worth retrying.
pub fn classify_status(status: u16) -> Outcome {
    if status == 429 || (500..=599).contains(&status) {
        Outcome::Retryable
    } else {
        Outcome::Final
    }
}

/// A `Retry-After` header value as a wait from `now`: delta-seconds or an HTTP date. `None` when
/// absent, unparseable, zero, negative or in the past.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return u64::try_from(secs)
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is RFC 2822 with zone `GMT`.
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    (date - now).to_std().ok().filter(|d| !d.is_zero())
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry), or `None` when no retry is
    /// left: the retries are used up, or the wait would take the total past `max_total_wait`.
    /// `jitter` is a draw from `[0, 1)`; `waited` is the total waited so far for this request.
    pub fn wait(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        jitter: f64,
        waited: Duration,
    ) -> Option<Duration> {
        if retry == 0 || retry > self.max_retries {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| {
            let exp = self
                .base
                .saturating_mul(2u32.saturating_pow(retry - 1))
                .min(self.max_backoff);
            exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
        });
        (waited + wait <= self.max_total_wait).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            max_total_wait: Duration::from_secs(30),
        }
    }

    #[test]
    fn statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), Outcome::Retryable, "{s}");
        }
        for s in [200, 304, 400, 401, 403, 404, 413] {
            assert_eq!(classify_status(s), Outcome::Final, "{s}");
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_non_hints() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_mins(2))
        );
        assert_eq!(parse_retry_after("0", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("0.0", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:59:00 GMT", now),
            None
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:00 GMT", now),
            None
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = policy();
        let z = Duration::ZERO;
        // jitter 0 -> half the exponential wait, jitter ~1 -> all of it.
        assert_eq!(p.wait(1, None, 0.0, z), Some(Duration::from_millis(250)));
        assert_eq!(p.wait(2, None, 0.0, z), Some(Duration::from_millis(500)));
        assert_eq!(p.wait(3, None, 0.0, z), Some(Duration::from_secs(1)));
        let high = p.wait(3, None, 0.999_999, z).unwrap();
        assert!(high > Duration::from_millis(1990) && high <= Duration::from_secs(2));
        // 500 ms * 2^3 = 4 s = the cap; retry 5 is past max_retries.
        assert_eq!(p.wait(4, None, 1.0, z), Some(Duration::from_secs(4)));
        assert_eq!(p.wait(5, None, 0.0, z), None);
        assert_eq!(p.wait(0, None, 0.0, z), None);
    }

    #[test]
    fn retry_after_replaces_backoff_within_the_total_cap() {
        let p = policy();
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(7)), 0.0, Duration::ZERO),
            Some(Duration::from_secs(7))
        );
        // 25 s already waited: 7 more would pass 30.
        assert_eq!(
            p.wait(
                2,
                Some(Duration::from_secs(7)),
                0.0,
                Duration::from_secs(25)
            ),
            None
        );
        assert_eq!(
            p.wait(1, Some(Duration::from_hours(1)), 0.0, Duration::ZERO),
            None
        );
    }
}
