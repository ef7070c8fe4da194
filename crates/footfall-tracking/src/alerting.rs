//! Alerts that don't spam: debounce (`k` of the last `n` samples) and hysteresis (re-arm only
//! below `threshold - margin`), so one breach raises one alert.
//!
//! The rule runs on any per-sample statistic: occupancy, a zone's occupancy, line counts per
//! window. States:
//!
//! - **armed**: each sample with data joins a window of the last `n`; when at least `k` of them
//!   exceed the threshold (`value > threshold`, as the single-count rule of `footfall-domain`)
//!   the alert **fires** once and the rule goes silent;
//! - **silent**: nothing fires, however long the breach lasts; a sample strictly below
//!   `threshold - margin` re-arms the rule with an empty window, so the next alert needs `k`
//!   fresh breaching samples.
//!
//! A sample without data (`None`: no frame could be read) is skipped entirely: it neither
//! counts for nor against a breach, takes no place in the window, and does not re-arm.
//!
//! Debouncing with `k` of `n` is the M-of-N detection rule of radar tracking (e.g. S. Blackman,
//! R. Popoli, "Design and Analysis of Modern Tracking Systems", Artech House 1999, ch. 6);
//! the hysteresis band is the Schmitt trigger's.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// When to alert on a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// A sample breaches when its value exceeds this.
    pub threshold: f64,
    /// Breaching samples needed within the window to fire (`1..=n`).
    pub k: usize,
    /// Window length, in samples with data.
    pub n: usize,
    /// Re-arm only below `threshold - margin` (`>= 0`).
    pub margin: f64,
}

/// An [`AlertRule`] that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertRuleError {
    #[error("k ({k}) must be between 1 and n ({n})")]
    BadWindow { k: usize, n: usize },
    #[error("the threshold must be finite, got {0}")]
    Threshold(f64),
    #[error("the margin must be finite and not negative, got {0}")]
    Margin(f64),
}

impl AlertRule {
    pub fn new(threshold: f64, k: usize, n: usize, margin: f64) -> Result<Self, AlertRuleError> {
        let rule = Self {
            threshold,
            k,
            n,
            margin,
        };
        rule.validate()?;
        Ok(rule)
    }

    pub fn validate(&self) -> Result<(), AlertRuleError> {
        if self.k == 0 || self.k > self.n {
            return Err(AlertRuleError::BadWindow {
                k: self.k,
                n: self.n,
            });
        }
        if !self.threshold.is_finite() {
            return Err(AlertRuleError::Threshold(self.threshold));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(AlertRuleError::Margin(self.margin));
        }
        Ok(())
    }
}

/// The state of one [`AlertRule`] over a stream of samples.
#[derive(Debug, Clone)]
pub struct Alerter {
    rule: AlertRule,
    /// Whether each of the last (up to `n`) samples with data breached.
    window: VecDeque<bool>,
    armed: bool,
    fired: u64,
}

impl Alerter {
    pub fn new(rule: AlertRule) -> Result<Self, AlertRuleError> {
        rule.validate()?;
        Ok(Self {
            rule,
            window: VecDeque::with_capacity(rule.n),
            armed: true,
            fired: 0,
        })
    }

    /// An alerter that starts armed or silent, as a previous job left it (the state kept per
    /// user between scheduled runs, so a breach that lasts several runs alerts once). The
    /// window starts empty either way.
    pub fn resume(rule: AlertRule, armed: bool) -> Result<Self, AlertRuleError> {
        let mut alerter = Self::new(rule)?;
        alerter.armed = armed;
        Ok(alerter)
    }

    pub fn rule(&self) -> &AlertRule {
        &self.rule
    }

    /// Whether an alert can fire (false from a firing until the re-arm).
    pub fn is_armed(&self) -> bool {
        self.armed
    }

    /// Alerts fired so far.
    pub fn fired(&self) -> u64 {
        self.fired
    }

    /// Feeds one sample; returns `true` when the alert fires on it.
    pub fn push(&mut self, value: Option<f64>) -> bool {
        let Some(v) = value.filter(|v| !v.is_nan()) else {
            return false;
        };
        if !self.armed {
            if v < self.rule.threshold - self.rule.margin {
                self.armed = true;
                self.window.clear();
            }
            return false;
        }
        if self.window.len() == self.rule.n {
            self.window.pop_front();
        }
        self.window.push_back(v > self.rule.threshold);
        if self.window.iter().filter(|b| **b).count() >= self.rule.k {
            self.armed = false;
            self.fired += 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rule: AlertRule, samples: &[Option<f64>]) -> Vec<usize> {
        let mut a = Alerter::new(rule).unwrap();
        samples
            .iter()
            .enumerate()
            .filter_map(|(i, s)| a.push(*s).then_some(i))
            .collect()
    }

    fn rule() -> AlertRule {
        AlertRule::new(10.0, 2, 3, 2.0).unwrap()
    }

    fn some(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().copied().map(Some).collect()
    }

    #[test]
    fn a_one_sample_spike_does_not_fire() {
        assert!(run(rule(), &some(&[5.0, 15.0, 5.0, 5.0, 5.0, 15.0, 5.0, 5.0])).is_empty());
        // At the threshold is not above it.
        assert!(run(rule(), &some(&[10.0, 10.0, 10.0, 10.0])).is_empty());
    }

    #[test]
    fn a_sustained_breach_fires_once() {
        let s = some(&[5.0, 12.0, 13.0, 14.0, 15.0, 16.0, 12.0, 11.0, 12.0]);
        assert_eq!(run(rule(), &s), vec![2]);
        // k of n, not k in a row: 12, 5, 12 is two of three.
        assert_eq!(run(rule(), &some(&[12.0, 5.0, 12.0])), vec![2]);
    }

    #[test]
    fn hysteresis_re_arms_only_below_threshold_minus_margin() {
        // Fires at 2; dips to 9 (below 10 but not below 8): still silent through the next breach.
        let s = some(&[12.0, 12.0, 12.0, 9.0, 8.0, 12.0, 12.0, 12.0]);
        assert_eq!(run(rule(), &s), vec![1]);
        // Below 8 re-arms with an empty window: two fresh breaches fire again.
        let s = some(&[12.0, 12.0, 7.9, 12.0, 12.0, 12.0]);
        assert_eq!(run(rule(), &s), vec![1, 4]);
        // With no margin the threshold itself must be undercut.
        let r = AlertRule::new(10.0, 1, 1, 0.0).unwrap();
        assert_eq!(run(r, &some(&[11.0, 10.0, 11.0, 9.99, 11.0])), vec![0, 4]);
    }

    #[test]
    fn samples_without_data_are_skipped() {
        // None neither counts for nor against: 12, None, None, 12 is two breaches of three.
        let s = vec![Some(12.0), None, None, Some(12.0)];
        assert_eq!(run(rule(), &s), vec![3]);
        // None takes no place in the window: 12, 5, None, 5 pushed the first 12 out.
        let s = vec![Some(12.0), Some(5.0), None, Some(5.0), Some(12.0)];
        assert!(run(rule(), &s).is_empty());
        // None does not re-arm.
        let s = vec![Some(12.0), Some(12.0), None, None, Some(12.0), Some(12.0)];
        assert_eq!(run(rule(), &s), vec![1]);
        // Neither does NaN.
        let s = vec![
            Some(12.0),
            Some(12.0),
            Some(f64::NAN),
            Some(12.0),
            Some(12.0),
        ];
        assert_eq!(run(rule(), &s), vec![1]);
    }

    #[test]
    fn a_resumed_silent_alerter_waits_for_the_re_arm() {
        let mut a = Alerter::resume(rule(), false).unwrap();
        assert!(!a.is_armed());
        for v in [12.0, 12.0, 9.0, 8.0] {
            assert!(!a.push(Some(v)));
        }
        assert!(!a.push(Some(7.0)));
        assert!(a.is_armed());
        assert!(!a.push(Some(12.0)));
        assert!(a.push(Some(12.0)));
        let armed = Alerter::resume(rule(), true).unwrap();
        assert!(armed.is_armed());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(AlertRule::new(10.0, 0, 3, 1.0).is_err());
        assert!(AlertRule::new(10.0, 4, 3, 1.0).is_err());
        assert!(AlertRule::new(f64::NAN, 1, 3, 1.0).is_err());
        assert!(AlertRule::new(10.0, 1, 3, -1.0).is_err());
        let bad = AlertRule {
            threshold: 1.0,
            k: 2,
            n: 1,
            margin: 0.0,
        };
        assert!(Alerter::new(bad).is_err());
    }
}
