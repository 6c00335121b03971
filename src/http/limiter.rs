//! A token bucket per host: pure (time is passed in), so it is tested without sleeping.
//!
//! A bucket holds up to `burst` tokens and gains `rate` tokens per second. A request takes one
//! token; when none is left, [`TokenBucket::take`] says how long to wait until one will be.
//!
//! A bucket lets through fewer than `burst + rate * W` calls in any window of `W` seconds (a full
//! bucket, plus what refills meanwhile). So the PxWeb limit of `maxCalls` per `timeWindow`
//! seconds is NOT `burst = maxCalls, rate = maxCalls / timeWindow`: that allows almost twice the
//! limit in one window, which is how clients get answered 429. [`TokenBucket::for_window`] uses
//! `burst = 1, rate = maxCalls / timeWindow`: calls are spaced evenly, never more than `maxCalls`
//! start in any window, and the sustained rate is the full limit.

use std::collections::HashMap;
use std::time::Duration;

/// A token bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    burst: f64,
    rate: f64,
    tokens: f64,
    /// Seconds (on the caller's clock) of the last update.
    at: f64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens (at least 1) refilled at `rate` tokens per second (more
    /// than 0), at time `now` seconds.
    pub fn new(burst: u32, rate: f64, now: f64) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            burst,
            rate: if rate > 0.0 { rate } else { f64::MIN_POSITIVE },
            tokens: burst,
            at: now,
        }
    }

    /// A bucket that never lets more than `calls` calls start in any window of `window` seconds.
    pub fn for_window(calls: u32, window: f64, now: f64) -> TokenBucket {
        TokenBucket::new(1, f64::from(calls.max(1)) / window.max(1e-3), now)
    }

    /// Takes a token at time `now` (seconds). Returns how long the caller must wait before
    /// sending: zero when a token was there. The token is reserved either way, so callers that
    /// wait the returned time and then send never exceed the rate, however many queue up.
    pub fn take(&mut self, now: f64) -> Duration {
        let now = now.max(self.at);
        self.tokens = (self.tokens + (now - self.at) * self.rate).min(self.burst);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// One bucket per host, created on first use with the host's limits.
#[derive(Debug, Default)]
pub struct HostLimiter {
    buckets: HashMap<String, TokenBucket>,
}

impl HostLimiter {
    /// Sets (or replaces) the limit of `host` to `calls` per `window` seconds, e.g. from a
    /// PxWeb config answer.
    pub fn configure(&mut self, host: &str, calls: u32, window: f64, now: f64) {
        self.buckets
            .insert(host.to_owned(), TokenBucket::for_window(calls, window, now));
    }

    /// Takes a token for `host`, creating its bucket with `(burst, rate)` if it has none.
    pub fn take(&mut self, host: &str, default: (u32, f64), now: f64) -> Duration {
        self.buckets
            .entry(host.to_owned())
            .or_insert_with(|| TokenBucket::new(default.0, default.1, now))
            .take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces() {
        let mut b = TokenBucket::new(3, 1.0, 0.0);
        assert_eq!(b.take(0.0), Duration::ZERO);
        assert_eq!(b.take(0.0), Duration::ZERO);
        assert_eq!(b.take(0.0), Duration::ZERO);
        // The fourth at t=0 waits one token's time, the fifth two.
        assert_eq!(b.take(0.0), Duration::from_secs(1));
        assert_eq!(b.take(0.0), Duration::from_secs(2));
    }

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let mut b = TokenBucket::new(2, 4.0, 10.0);
        b.take(10.0);
        b.take(10.0);
        // 0.25 s later exactly one token is back.
        assert_eq!(b.take(10.25), Duration::ZERO);
        assert!(b.take(10.25) > Duration::ZERO);
        // A long pause refills to the burst, not beyond.
        let mut b = TokenBucket::new(2, 4.0, 0.0);
        assert_eq!(b.take(100.0), Duration::ZERO);
        assert_eq!(b.take(100.0), Duration::ZERO);
        assert_eq!(b.take(100.0), Duration::from_millis(250));
    }

    /// When 200 callers start, each waiting what `take` says: they arrive every 50 ms, every
    /// seventh at once. Sorted.
    fn starts(b: &mut TokenBucket) -> Vec<f64> {
        let mut now = 0.0;
        let mut starts = Vec::new();
        for i in 0..200 {
            let arrive = f64::from(i) * if i % 7 == 0 { 0.0 } else { 0.05 };
            now = f64::max(now, arrive);
            let wait = b.take(now);
            starts.push(now + wait.as_secs_f64());
        }
        starts.sort_by(f64::total_cmp);
        starts
    }

    /// PxWeb's "30 calls per 10 s" (and SCB's 3 per 1 s): in any window at most that many
    /// calls start, when every caller waits what `take` says. (With `burst = 30, rate = 3/s`
    /// this fails: 59 calls in the first 10 s.)
    #[test]
    fn never_more_than_max_calls_in_any_window() {
        for (calls, window) in [(30, 10.0), (3, 1.0), (1, 2.0)] {
            let mut b = TokenBucket::for_window(calls, window, 0.0);
            let starts = starts(&mut b);
            for (i, s) in starts.iter().enumerate() {
                let n = starts[i..]
                    .iter()
                    .take_while(|t| **t < s + window - 1e-9)
                    .count();
                assert!(n <= calls as usize, "{n} calls within {window} s from {s}");
            }
            // And the limit is used: 200 calls take no longer than 200 calls at the full rate.
            let last = starts.last().copied().unwrap_or_default();
            assert!(last <= 200.0 * window / f64::from(calls), "{last}");
        }
    }

    #[test]
    fn a_naive_bucket_allows_twice_the_window_limit() {
        let starts = starts(&mut TokenBucket::new(30, 3.0, 0.0));
        let first_window = starts.iter().filter(|t| **t < 10.0 - 1e-9).count();
        assert!(first_window > 50, "{first_window}");
    }

    #[test]
    fn a_clock_going_backwards_does_not_mint_tokens() {
        let mut b = TokenBucket::new(1, 1.0, 5.0);
        assert_eq!(b.take(5.0), Duration::ZERO);
        assert_eq!(b.take(1.0), Duration::from_secs(1));
    }

    #[test]
    fn hosts_have_their_own_buckets() {
        let mut l = HostLimiter::default();
        l.configure("pxdata.stat.fi", 1, 10.0, 0.0);
        assert_eq!(l.take("pxdata.stat.fi", (5, 5.0), 0.0), Duration::ZERO);
        // One call per 10 s.
        assert_eq!(
            l.take("pxdata.stat.fi", (5, 5.0), 0.0),
            Duration::from_secs(10)
        );
        assert_eq!(l.take("sotkanet.fi", (5, 5.0), 0.0), Duration::ZERO);
    }
}
