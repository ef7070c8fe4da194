//! Attempts with exponential backoff and jitter: one implementation for the job's sinks, the
//! S3 compare-and-set loops and the controller's task starts.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Total attempts (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub base: Duration,
    /// Upper bound of one delay.
    pub max: Duration,
}

impl Backoff {
    /// One attempt, no retries.
    pub const ONCE: Self = Self {
        attempts: 1,
        base: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The delay before attempt `n` (0-based; attempt 0 has none), with up to 50 % jitter so
    /// that writers that collided do not collide again.
    pub fn delay(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let exp = self.base.saturating_mul(1u32 << (n - 1).min(16));
        exp.min(self.max).mul_f64(0.5 + 0.5 * jitter())
    }
}

/// A number in [0, 1) that differs between calls and processes (no cryptographic quality).
pub fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = t
        ^ u64::from(std::process::id()).rotate_left(32)
        ^ SEQ.fetch_add(0x9E37_79B9, Ordering::Relaxed);
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// One failed attempt, as reported to the caller's `on_failure`.
#[derive(Debug)]
pub struct Failure<'a, E> {
    /// What was attempted (`db`, `csv`, `RunTask`, ...).
    pub what: &'a str,
    /// 1-based.
    pub attempt: u32,
    pub of: u32,
    pub retryable: bool,
    /// No further attempt follows.
    pub last: bool,
    pub error: &'a E,
}

/// Runs `f` until it succeeds, fails with an error `retryable` refuses, or the attempts are
/// spent. Each failed attempt goes to `on_failure` (logging).
pub async fn retry<T, E, F, Fut>(
    backoff: &Backoff,
    what: &str,
    retryable: impl Fn(&E) -> bool,
    mut on_failure: impl FnMut(Failure<'_, E>),
    mut f: F,
) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let attempts = backoff.attempts.max(1);
    let mut attempt = 0;
    loop {
        tokio::time::sleep(backoff.delay(attempt)).await;
        match f(attempt).await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let can_retry = retryable(&error);
                let last = !can_retry || attempt + 1 >= attempts;
                on_failure(Failure {
                    what,
                    attempt: attempt + 1,
                    of: attempts,
                    retryable: can_retry,
                    last,
                    error: &error,
                });
                if last {
                    return Err(error);
                }
            }
        }
        attempt += 1;
    }
}

/// An `on_failure` that logs through `tracing` (warn, error on the last attempt).
pub fn log_failure<E: std::fmt::Display>(failure: Failure<'_, E>) {
    if failure.last {
        tracing::error!(step = failure.what, attempt = failure.attempt, of = failure.of,
            retryable = failure.retryable, error = %failure.error, "attempt failed, giving up");
    } else {
        tracing::warn!(step = failure.what, attempt = failure.attempt, of = failure.of,
            error = %failure.error, "attempt failed, retrying");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let b = Backoff {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(0), Duration::ZERO);
        let d1 = b.delay(1);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d3 = b.delay(3);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
        assert!(b.delay(30) <= Duration::from_secs(1));
        let j: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(j.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(j.windows(2).any(|w| w[0] != w[1]));
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let n = AtomicU32::new(0);
        let mut seen = Vec::new();
        let r = retry(
            &fast(5),
            "thing",
            |e: &(bool, &str)| e.0,
            |f| seen.push((f.attempt, f.last)),
            |_| async {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err((true, "503"))
                } else {
                    Ok(7)
                }
            },
        )
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert_eq!(seen, [(1, false), (2, false)]);
    }

    #[tokio::test]
    async fn permanent_errors_stop_at_once_and_attempts_run_out() {
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(
            &fast(5),
            "x",
            |_: &&str| false,
            |_| {},
            |_| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err("400")
            },
        )
        .await;
        assert_eq!(r, Err("400"));
        assert_eq!(n.load(Ordering::SeqCst), 1);
        let n = AtomicU32::new(0);
        let mut last = None;
        let r: Result<(), _> = retry(
            &fast(3),
            "x",
            |_: &&str| true,
            |f| last = Some((f.attempt, f.last)),
            |_| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err("timeout")
            },
        )
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert_eq!(last, Some((3, true)));
    }
}
