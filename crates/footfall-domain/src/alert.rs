//! When a result raises an alert: the count exceeds the user's threshold, monitoring is on, and
//! no alert went out for the user within the cooldown window. Every runtime and the notification
//! Lambda decide with [`decide`]; where the last alert time is kept is a
//! [`CooldownStore`](crate::sinks::CooldownStore).

use chrono::{DateTime, Duration, Utc};

/// Default alert threshold (people) when a user has none of their own.
pub const DEFAULT_THRESHOLD: u32 = 15;

/// The outcome of the alert rule for one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDecision {
    /// No frame was counted: nothing to alert on.
    NoData,
    /// The count does not exceed the threshold.
    BelowThreshold { people: u32, threshold: u32 },
    /// The user's monitoring is off.
    MonitoringOff,
    /// The alert for this very result went out before (a re-run of a stored result, e.g.
    /// after a kill), whatever the cooldown.
    AlreadyAlerted,
    /// An alert went out less than the cooldown ago.
    CoolingDown { until: DateTime<Utc> },
    /// The debounced rule of the user's job configuration did not fire on this result: fewer
    /// than `k` of `n` samples exceeded the threshold (`armed`), or the rule is silent since
    /// the alert for the breach under way and re-arms only below `threshold - margin`
    /// (`armed: false`).
    RuleNotFired { armed: bool, reason: String },
    /// Send it.
    Send,
}

impl AlertDecision {
    /// A short reason for logs and reports.
    pub fn reason(&self) -> String {
        match self {
            Self::NoData => "no frame was counted".into(),
            Self::BelowThreshold { people, threshold } => {
                format!("people_count {people} does not exceed threshold {threshold}")
            }
            Self::MonitoringOff => "Monitoring_status is false".into(),
            Self::AlreadyAlerted => "the alert for this result already went out".into(),
            Self::CoolingDown { until } => format!(
                "cooldown: the last alert for this user was less than the window ago (until {})",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Self::RuleNotFired { reason, .. } => reason.clone(),
            Self::Send => "send".into(),
        }
    }
}

/// What the rule needs to know about one result.
#[derive(Debug, Clone, Copy)]
pub struct AlertInput {
    pub people: Option<u32>,
    pub threshold: u32,
    pub monitored: bool,
    /// When the result was taken; the cooldown runs on these times (not the wall clock), so a
    /// re-run of an old tick is judged at its own time.
    pub taken_at: DateTime<Utc>,
    /// When the last alert for this user went out, if one did.
    pub last_alert: Option<DateTime<Utc>>,
    pub cooldown: Duration,
}

/// The alert rule. The window is symmetric (`|taken_at - last| < cooldown`) so results that
/// arrive out of order cannot alert twice within one window.
pub fn decide(input: AlertInput) -> AlertDecision {
    let Some(people) = input.people else {
        return AlertDecision::NoData;
    };
    if people <= input.threshold {
        return AlertDecision::BelowThreshold {
            people,
            threshold: input.threshold,
        };
    }
    decide_breach(input)
}

/// The rule for a result already known to breach (the debounced rule of a user's job
/// configuration fired): monitoring and cooldown, as [`decide`] applies them after its
/// threshold check. `input.people` is not looked at.
pub fn decide_breach(input: AlertInput) -> AlertDecision {
    if !input.monitored {
        return AlertDecision::MonitoringOff;
    }
    if let Some(last) = input.last_alert {
        if last == input.taken_at {
            return AlertDecision::AlreadyAlerted;
        }
        let since = input.taken_at.signed_duration_since(last);
        if since.abs() < input.cooldown {
            return AlertDecision::CoolingDown {
                until: last
                    .checked_add_signed(input.cooldown)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            };
        }
    }
    AlertDecision::Send
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rule_table() {
        let hour = Duration::hours(1);
        let t0 = at("2026-11-30T10:00:00Z");
        // (people, threshold, monitored, last alert, expected)
        type Case<'a> = (Option<u32>, u32, bool, Option<&'a str>, AlertDecision);
        let cases: &[Case] = &[
            (None, 5, true, None, AlertDecision::NoData),
            (
                Some(5),
                5,
                true,
                None,
                AlertDecision::BelowThreshold {
                    people: 5,
                    threshold: 5,
                },
            ),
            (Some(6), 5, false, None, AlertDecision::MonitoringOff),
            (Some(6), 5, true, None, AlertDecision::Send),
            (
                Some(6),
                5,
                true,
                Some("2026-11-30T09:30:00Z"),
                AlertDecision::CoolingDown {
                    until: at("2026-11-30T10:30:00Z"),
                },
            ),
            (
                Some(6),
                5,
                true,
                Some("2026-11-30T09:00:00Z"),
                AlertDecision::Send,
            ),
            // A later alert already went out (results out of order): still within the window.
            (
                Some(6),
                5,
                true,
                Some("2026-11-30T10:20:00Z"),
                AlertDecision::CoolingDown {
                    until: at("2026-11-30T11:20:00Z"),
                },
            ),
            // The same result again (a re-run after a kill).
            (
                Some(6),
                5,
                true,
                Some("2026-11-30T10:00:00Z"),
                AlertDecision::AlreadyAlerted,
            ),
        ];
        for (people, threshold, monitored, last, expected) in cases {
            let got = decide(AlertInput {
                people: *people,
                threshold: *threshold,
                monitored: *monitored,
                taken_at: t0,
                last_alert: last.map(at),
                cooldown: hour,
            });
            assert_eq!(
                &got, expected,
                "{people:?} {threshold} {monitored} {last:?}"
            );
        }
    }

    #[test]
    fn the_same_result_never_alerts_twice_even_without_cooldown() {
        let t0 = at("2026-11-30T10:00:00Z");
        let input = AlertInput {
            people: Some(9),
            threshold: 1,
            monitored: true,
            taken_at: t0,
            last_alert: Some(t0),
            cooldown: Duration::zero(),
        };
        assert_eq!(decide(input), AlertDecision::AlreadyAlerted);
        let next_tick = AlertInput {
            taken_at: t0 + Duration::hours(1),
            ..input
        };
        assert_eq!(decide(next_tick), AlertDecision::Send);
    }
}
