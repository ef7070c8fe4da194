//! Which decoded frames become samples, by presentation time. Pure logic, no FFmpeg.

use std::time::Duration;

use crate::error::{FrameSourceError, Result};

/// How frames are picked from a stream. Times are presentation times in seconds from the start of
/// the stream, so a slow consumer or a fast file never changes which frames are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplingPolicy {
    /// `frames` samples spread evenly over `window`, starting at the first frame (one every
    /// `window / frames`). The job ends after the last one or when the window has passed.
    Spread { frames: u32, window: Duration },
    /// One sample every `interval`, until the source ends or the job limit is reached.
    Every(Duration),
    /// Every k-th decoded frame (k = 1 takes all), counted from the first frame.
    EveryNth(u32),
}

impl SamplingPolicy {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Spread { frames: 0, .. } => Err(FrameSourceError::InvalidPolicy(
                "frames must be at least 1".to_string(),
            )),
            Self::Spread { window, .. } if window.is_zero() => Err(
                FrameSourceError::InvalidPolicy("window must be longer than 0 s".to_string()),
            ),
            Self::Every(interval) if interval.is_zero() => Err(FrameSourceError::InvalidPolicy(
                "interval must be longer than 0 s".to_string(),
            )),
            Self::EveryNth(0) => Err(FrameSourceError::InvalidPolicy(
                "k must be at least 1".to_string(),
            )),
            _ => Ok(()),
        }
    }
}

/// What to do with one decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Convert to RGB and hand out.
    Take,
    /// Drop without converting.
    Skip,
    /// The policy is satisfied: stop the job (this frame is not taken).
    Done,
}

/// Timestamps of 25/30 fps streams in 90 kHz or 1/1000 time bases are not exact multiples of the
/// interval; half a millisecond absorbs that without ever picking a neighbouring frame.
const TIME_TOLERANCE_S: f64 = 0.0005;

/// Applies a [`SamplingPolicy`] to a sequence of frames.
#[derive(Debug, Clone)]
pub struct Sampler {
    policy: SamplingPolicy,
    first_t: Option<f64>,
    next_due: f64,
    taken: u32,
}

impl Sampler {
    pub fn new(policy: SamplingPolicy) -> Result<Self> {
        policy.validate()?;
        Ok(Self {
            policy,
            first_t: None,
            next_due: 0.0,
            taken: 0,
        })
    }

    /// Decides about the frame with presentation time `t` (seconds) and decode index `index`.
    pub fn decide(&mut self, t: f64, index: u64) -> Decision {
        let first = *self.first_t.get_or_insert_with(|| {
            self.next_due = t;
            t
        });
        match self.policy {
            SamplingPolicy::EveryNth(k) => {
                if index.is_multiple_of(u64::from(k)) {
                    self.taken += 1;
                    Decision::Take
                } else {
                    Decision::Skip
                }
            }
            SamplingPolicy::Every(interval) => self.decide_due(t, interval.as_secs_f64()),
            SamplingPolicy::Spread { frames, window } => {
                if self.taken >= frames || t >= first + window.as_secs_f64() - TIME_TOLERANCE_S {
                    return Decision::Done;
                }
                self.decide_due(t, window.as_secs_f64() / f64::from(frames))
            }
        }
    }

    fn decide_due(&mut self, t: f64, interval: f64) -> Decision {
        if t + TIME_TOLERANCE_S < self.next_due {
            return Decision::Skip;
        }
        // After a gap (dropped segment, reconnect) several due times may have passed: the frame
        // stands for the latest of them, and the next one is in the future.
        while self.next_due <= t + TIME_TOLERANCE_S {
            self.next_due += interval;
        }
        self.taken += 1;
        Decision::Take
    }

    /// True once a Spread policy has all its samples, so the job may end without waiting for
    /// the next frame (which on a live stream may be far away).
    pub fn satisfied(&self) -> bool {
        matches!(self.policy, SamplingPolicy::Spread { frames, .. } if self.taken >= frames)
    }

    /// Presentation time of the next wanted frame, when the policy is time based and has started.
    /// Used to seek over frames that would be skipped anyway.
    pub fn next_due(&self) -> Option<f64> {
        match self.policy {
            SamplingPolicy::EveryNth(_) => None,
            _ => self.first_t.map(|_| self.next_due),
        }
    }

    pub fn taken(&self) -> u32 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(policy: SamplingPolicy, fps: f64, frames: u64) -> Vec<f64> {
        let mut sampler = Sampler::new(policy).unwrap();
        let mut taken = Vec::new();
        for i in 0..frames {
            let t = i as f64 / fps;
            match sampler.decide(t, i) {
                Decision::Take => taken.push(t),
                Decision::Skip => {}
                Decision::Done => break,
            }
        }
        taken
    }

    #[test]
    fn every_interval_by_presentation_time() {
        let taken = run(SamplingPolicy::Every(Duration::from_secs(1)), 25.0, 250);
        assert_eq!(taken, (0..10).map(f64::from).collect::<Vec<_>>());
        // 29.97 fps: frame times are never exact multiples of the interval.
        let taken = run(
            SamplingPolicy::Every(Duration::from_secs(2)),
            30000.0 / 1001.0,
            300,
        );
        assert_eq!(taken.len(), 5);
        for (i, t) in taken.iter().enumerate() {
            assert!((t - 2.0 * i as f64).abs() < 1.0 / 29.0, "{t}");
        }
    }

    #[test]
    fn spread_frames_over_window() {
        let taken = run(
            SamplingPolicy::Spread {
                frames: 4,
                window: Duration::from_secs(8),
            },
            25.0,
            250,
        );
        assert_eq!(taken, vec![0.0, 2.0, 4.0, 6.0]);
        // A window longer than the source: the source ends first.
        let taken = run(
            SamplingPolicy::Spread {
                frames: 10,
                window: Duration::from_secs(60),
            },
            25.0,
            250,
        );
        assert_eq!(taken, vec![0.0, 6.0]);
    }

    #[test]
    fn every_nth_frame() {
        let taken = run(SamplingPolicy::EveryNth(25), 25.0, 250);
        assert_eq!(taken.len(), 10);
        assert_eq!(run(SamplingPolicy::EveryNth(1), 25.0, 250).len(), 250);
    }

    #[test]
    fn gaps_do_not_cause_bursts() {
        let mut sampler = Sampler::new(SamplingPolicy::Every(Duration::from_secs(1))).unwrap();
        assert_eq!(sampler.decide(0.0, 0), Decision::Take);
        // Jump over three due times: one sample, next due after the jump.
        assert_eq!(sampler.decide(3.5, 1), Decision::Take);
        assert_eq!(sampler.decide(3.6, 2), Decision::Skip);
        assert_eq!(sampler.next_due(), Some(4.0));
    }

    #[test]
    fn spread_is_satisfied_after_its_frames() {
        let mut sampler = Sampler::new(SamplingPolicy::Spread {
            frames: 1,
            window: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(sampler.decide(5.0, 0), Decision::Take);
        assert!(sampler.satisfied());
        assert_eq!(sampler.decide(5.04, 1), Decision::Done);
    }

    #[test]
    fn invalid_policies_are_rejected() {
        for policy in [
            SamplingPolicy::EveryNth(0),
            SamplingPolicy::Every(Duration::ZERO),
            SamplingPolicy::Spread {
                frames: 0,
                window: Duration::from_secs(1),
            },
            SamplingPolicy::Spread {
                frames: 3,
                window: Duration::ZERO,
            },
        ] {
            assert!(matches!(
                Sampler::new(policy),
                Err(FrameSourceError::InvalidPolicy(_))
            ));
        }
    }
}
