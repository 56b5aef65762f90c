//! Bounded exponential backoff with jitter, under an overall deadline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How connection failures are retried. Policy rejections are never retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Largest wait between attempts.
    pub max_backoff: Duration,
    /// Most attempts (including the first); the overall deadline may end them sooner.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_attempts: 20,
        }
    }
}

impl RetryPolicy {
    /// No retry: one attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): `initial * 2^(attempt-1)`, capped at
    /// `max_backoff`, then scaled by a jitter factor in [0.5, 1.0] so many clients restarting together
    /// do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        capped.mul_f64(0.5 + 0.5 * jitter_unit())
    }
}

/// The schedule of one operation: attempts made and the deadline they must fit in.
pub(crate) struct Schedule {
    policy: RetryPolicy,
    deadline: Instant,
    pub(crate) attempts: u32,
}

impl Schedule {
    pub(crate) fn new(policy: RetryPolicy, overall: Duration) -> Self {
        Self {
            policy,
            deadline: Instant::now() + overall,
            attempts: 0,
        }
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Counts an attempt about to start; `false` when none is left.
    pub(crate) fn start_attempt(&mut self) -> bool {
        if self.attempts >= self.policy.max_attempts.max(1) || self.remaining().is_zero() {
            return false;
        }
        self.attempts += 1;
        true
    }

    /// Sleeps before the next attempt; `false` (without sleeping) when the wait would pass the deadline
    /// or no attempt is left.
    pub(crate) async fn wait(&self) -> bool {
        if self.attempts >= self.policy.max_attempts.max(1) {
            return false;
        }
        let pause = self.policy.backoff(self.attempts);
        if pause >= self.remaining() {
            return false;
        }
        tokio::time::sleep(pause).await;
        true
    }
}

/// A value in [0, 1) that differs between processes and calls; not cryptographic.
fn jitter_unit() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Mix in the process id so clients started in the same instant differ.
    let mixed = (u64::from(nanos) ^ (u64::from(std::process::id()) << 20))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_attempts: 10,
        };
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(
                b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100),
                "{b1:?}"
            );
            let b3 = p.backoff(3);
            assert!(
                b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400),
                "{b3:?}"
            );
            let b30 = p.backoff(30);
            assert!(
                b30 >= Duration::from_millis(500) && b30 <= Duration::from_millis(1000),
                "{b30:?}"
            );
        }
    }

    #[tokio::test]
    async fn schedule_stops_at_attempts_and_deadline() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            max_attempts: 3,
        };
        let mut s = Schedule::new(p, Duration::from_secs(10));
        let mut n = 0;
        while s.start_attempt() {
            n += 1;
            if !s.wait().await {
                break;
            }
        }
        assert_eq!(n, 3);

        let p = RetryPolicy {
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(5),
            max_attempts: 100,
        };
        let mut s = Schedule::new(p, Duration::from_millis(100));
        assert!(s.start_attempt());
        assert!(!s.wait().await, "a wait past the deadline must not happen");
    }
}
