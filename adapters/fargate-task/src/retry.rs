//! Retry with exponential backoff and jitter.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::TaskError;
use crate::log::JsonLog;

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
    /// The delay before attempt `n` (0-based; attempt 0 has none), with up to 50 % jitter.
    pub fn delay(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let exp = self.base.saturating_mul(1u32 << (n - 1).min(16));
        let d = exp.min(self.max);
        d.mul_f64(0.5 + 0.5 * jitter())
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
        ^ (std::process::id() as u64).rotate_left(32)
        ^ SEQ.fetch_add(0x9E37_79B9, Ordering::Relaxed);
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Run `f` until it succeeds, fails permanently, or the attempts are spent. Every failed
/// attempt is logged as a JSON line naming `what`.
pub async fn retry<T, F, Fut>(
    backoff: &Backoff,
    log: &JsonLog,
    what: &str,
    mut f: F,
) -> Result<T, TaskError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, TaskError>>,
{
    let mut attempt = 0;
    loop {
        tokio::time::sleep(backoff.delay(attempt)).await;
        match f(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let last = !e.retryable() || attempt + 1 >= backoff.attempts.max(1);
                log.event(
                    if last { "error" } else { "warn" },
                    "attempt_failed",
                    serde_json::json!({"step": what, "attempt": attempt + 1, "of": backoff.attempts,
                                       "retryable": e.retryable(), "error": e.to_string()}),
                );
                if last {
                    return Err(e);
                }
            }
        }
        attempt += 1;
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
    async fn retries_until_success_then_stops() {
        let log = JsonLog::capture("run", "user");
        let n = AtomicU32::new(0);
        let r = retry(&fast(5), &log, "thing", |_| async {
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(TaskError::sink("s3", "503", true))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);
        let lines = log.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["step"], "thing");
        assert_eq!(lines[0]["run_id"], "run");
        assert_eq!(lines[0]["user_id"], "user");
    }

    #[tokio::test]
    async fn permanent_errors_and_exhaustion() {
        let log = JsonLog::capture("run", "user");
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(&fast(5), &log, "x", |_| async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(TaskError::sink("callback", "400", false))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 1);
        let n = AtomicU32::new(0);
        let r: Result<(), _> = retry(&fast(3), &log, "x", |_| async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(TaskError::sink("s3", "timeout", true))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert_eq!(log.lines().last().unwrap()["level"], "error");
    }
}
