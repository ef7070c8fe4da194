//! What a job does after one connection ends: reconnect (after how long), or finish with which
//! health and which error. A pure function of plain facts, so every case can be pinned by a table
//! test without FFmpeg, servers or clocks; `decode` gathers the facts and carries out the verdict.

use std::time::Duration;

use crate::job::{Limits, StreamHealth};

/// How one connection ended, without the error value it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The sampling policy is satisfied.
    PolicyDone,
    /// The demuxer reported the end of the input.
    Eof,
    /// The consumer dropped the stream.
    ConsumerGone,
    Cancelled,
    /// The job's stop handle asked it to stop.
    Stopped,
    /// The job reached `max_job_duration`.
    Deadline,
    /// Opening took longer than `connect_timeout`.
    ConnectTimeout,
    /// No data for `read_timeout` once open.
    Stalled,
    /// An error; `opened` tells whether this connection's input had opened, `permanent` that
    /// retrying cannot help.
    Failed {
        opened: bool,
        permanent: bool,
    },
}

/// What the job knows when a connection ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Facts {
    /// The source is a local file (reopening it reads the same bytes).
    pub file: bool,
    /// The source has no known duration (live HLS, RTSP).
    pub live: bool,
    /// Some connection of this job opened the input and its decoder.
    pub ever_opened: bool,
    pub frames_decoded: u64,
    pub frames_sampled: u64,
    /// Stretches of the stream were missing between decoded frames.
    pub gaps: bool,
    /// A finite source was read (nearly) to its end.
    pub covered_source: bool,
    /// Time since the last new frame, `None` before the first.
    pub since_last_frame: Option<Duration>,
    /// Wall-clock time of the job so far.
    pub elapsed: Duration,
    pub reconnects_done: u32,
    /// The health a reconnect under way would report if it failed: set from a reconnect verdict
    /// until the next new frame.
    pub reconnecting: Option<StreamHealth>,
}

/// Which error a finished or reconnecting job reports; `decode` builds the value, because the
/// message needs state (locator, times) that does not change the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// No error.
    None,
    /// The error of the last recovered reconnect, if any (kept with health `Ok`).
    Recovered,
    /// The error the connection failed with.
    Connection,
    /// The job reached `max_job_duration`.
    JobLimit,
    /// The input ended before any frame was decoded.
    NothingDecoded,
    /// Parts of a finite source could not be read.
    Gaps,
    /// The input ended before its duration, or a live stream ended.
    EndedShort,
    Stalled,
    ConnectTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Wait `delay`, then open the source again. `health` is reported with `cause` if the job
    /// is stopped (cancelled, deadline) while waiting.
    Reconnect {
        delay: Duration,
        health: StreamHealth,
        cause: Cause,
    },
    Finish {
        health: StreamHealth,
        cause: Cause,
    },
}

/// Decides what follows the end of one connection.
pub(crate) fn verdict(ending: Ending, facts: &Facts, limits: &Limits) -> Verdict {
    use StreamHealth::{EndedEarly, Ok, Stalled, Unavailable};
    let finish = |health, cause| Verdict::Finish { health, cause };
    // Either a final verdict, or a reason worth a reconnect with the health to report if
    // reconnecting does not help.
    let (health, cause) = match ending {
        Ending::PolicyDone => return finish(Ok, Cause::Recovered),
        Ending::ConsumerGone | Ending::Cancelled => return finish(EndedEarly, Cause::None),
        // A stop keeps the health that was true until then.
        Ending::Stopped => {
            if let Some(health) = facts.reconnecting {
                return finish(health, Cause::Recovered);
            }
            if !facts.ever_opened {
                return finish(Unavailable, Cause::Recovered);
            }
            if !facts.live && facts.gaps {
                return finish(EndedEarly, Cause::Gaps);
            }
            return finish(Ok, Cause::Recovered);
        }
        Ending::Deadline => {
            let recent_frame = facts
                .since_last_frame
                .is_some_and(|since| since <= limits.read_timeout);
            // A live stream sampled until the job limit is the normal end of a live job.
            if facts.live && facts.frames_sampled > 0 && recent_frame {
                return finish(Ok, Cause::None);
            }
            let health = if !facts.ever_opened {
                Unavailable
            } else if recent_frame {
                EndedEarly
            } else {
                Stalled
            };
            return finish(health, Cause::JobLimit);
        }
        Ending::Eof => {
            if facts.frames_decoded == 0 {
                return finish(Unavailable, Cause::NothingDecoded);
            }
            if !facts.live && facts.gaps {
                // Reconnecting would only read the same gaps again.
                return finish(EndedEarly, Cause::Gaps);
            }
            if !facts.live && facts.covered_source {
                return finish(Ok, Cause::Recovered);
            }
            // Reopening a local file reads the same bytes again.
            if facts.file {
                return finish(EndedEarly, Cause::EndedShort);
            }
            (EndedEarly, Cause::EndedShort)
        }
        Ending::Stalled => (Stalled, Cause::Stalled),
        Ending::ConnectTimeout => {
            if !facts.ever_opened {
                return finish(Unavailable, Cause::ConnectTimeout);
            }
            (EndedEarly, Cause::ConnectTimeout)
        }
        Ending::Failed { opened, permanent } => {
            // A source that never opened is unavailable; retrying a 404 only delays the verdict.
            if !facts.ever_opened || permanent {
                let health = if facts.frames_sampled > 0 {
                    EndedEarly
                } else {
                    Unavailable
                };
                return finish(health, Cause::Connection);
            }
            let health = if opened || facts.frames_sampled > 0 {
                EndedEarly
            } else {
                Unavailable
            };
            (health, Cause::Connection)
        }
    };
    if facts.reconnects_done >= limits.max_reconnects || past_deadline(facts.elapsed, limits) {
        return finish(health, cause);
    }
    Verdict::Reconnect {
        delay: backoff(facts.reconnects_done, limits),
        health,
        cause,
    }
}

/// Wait before reconnect attempt `done + 1`: `backoff_initial`, then doubled per attempt up to
/// `backoff_max`.
pub(crate) fn backoff(done: u32, limits: &Limits) -> Duration {
    if done == 0 {
        return limits.backoff_initial;
    }
    let factor = 2u32.saturating_pow(done);
    limits
        .backoff_initial
        .saturating_mul(factor)
        .min(limits.backoff_max)
}

/// Same millisecond comparison as the decode watchdog's deadline.
fn past_deadline(elapsed: Duration, limits: &Limits) -> bool {
    millis(elapsed) >= millis(limits.max_job_duration)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const LIMITS: Limits = Limits {
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(2),
        max_job_duration: Duration::from_secs(30),
        max_frame_pixels: 3840 * 2160,
        max_reconnects: 2,
        backoff_initial: ms(100),
        backoff_max: ms(400),
    };

    /// A source that opened and decoded frames, nothing else remarkable.
    const BASE: Facts = Facts {
        file: false,
        live: false,
        ever_opened: true,
        frames_decoded: 100,
        frames_sampled: 10,
        gaps: false,
        covered_source: false,
        since_last_frame: Some(ms(50)),
        elapsed: Duration::from_secs(5),
        reconnects_done: 0,
        reconnecting: None,
    };
    const LIVE: Facts = Facts { live: true, ..BASE };
    const FILE: Facts = Facts { file: true, ..BASE };
    const NEVER_OPENED: Facts = Facts {
        ever_opened: false,
        frames_decoded: 0,
        frames_sampled: 0,
        since_last_frame: None,
        ..BASE
    };
    const FAILED: Ending = Ending::Failed {
        opened: true,
        permanent: false,
    };

    const fn finish(health: StreamHealth, cause: Cause) -> Verdict {
        Verdict::Finish { health, cause }
    }
    const fn reconnect(delay_ms: u64, health: StreamHealth, cause: Cause) -> Verdict {
        Verdict::Reconnect {
            delay: ms(delay_ms),
            health,
            cause,
        }
    }

    use StreamHealth::{EndedEarly, Ok, Stalled, Unavailable};

    /// (what the row pins, ending, facts, expected verdict) — today's behaviour.
    #[rustfmt::skip]
    const CASES: &[(&str, Ending, Facts, Verdict)] = &[
        ("policy done keeps a recovered error", Ending::PolicyDone, BASE, finish(Ok, Cause::Recovered)),
        ("policy done on a live stream", Ending::PolicyDone, LIVE, finish(Ok, Cause::Recovered)),
        ("consumer gone", Ending::ConsumerGone, BASE, finish(EndedEarly, Cause::None)),
        ("cancelled", Ending::Cancelled, LIVE, finish(EndedEarly, Cause::None)),
        // Stop handle: the health so far.
        ("stopped while decoding a live stream", Ending::Stopped, LIVE, finish(Ok, Cause::Recovered)),
        ("stopped in the middle of a file", Ending::Stopped, FILE, finish(Ok, Cause::Recovered)),
        ("stopped after gaps in a finite source", Ending::Stopped, Facts { gaps: true, ..BASE }, finish(EndedEarly, Cause::Gaps)),
        ("stopped while reconnecting after a stall", Ending::Stopped, Facts { reconnecting: Some(Stalled), ..LIVE }, finish(Stalled, Cause::Recovered)),
        ("stopped before the source opened", Ending::Stopped, NEVER_OPENED, finish(Unavailable, Cause::Recovered)),
        // Job-duration limit.
        ("deadline on a live stream with a recent frame is ok", Ending::Deadline, LIVE, finish(Ok, Cause::None)),
        ("deadline on a live stream, frame exactly read_timeout ago", Ending::Deadline, Facts { since_last_frame: Some(ms(2000)), ..LIVE }, finish(Ok, Cause::None)),
        ("deadline on a live stream without recent frames is a stall", Ending::Deadline, Facts { since_last_frame: Some(ms(2001)), ..LIVE }, finish(Stalled, Cause::JobLimit)),
        ("deadline on a live stream with nothing sampled", Ending::Deadline, Facts { frames_sampled: 0, ..LIVE }, finish(EndedEarly, Cause::JobLimit)),
        ("deadline on a finite source with a recent frame", Ending::Deadline, BASE, finish(EndedEarly, Cause::JobLimit)),
        ("deadline before the source ever opened", Ending::Deadline, NEVER_OPENED, finish(Unavailable, Cause::JobLimit)),
        // End of input.
        ("eof before any frame", Ending::Eof, Facts { frames_decoded: 0, ..BASE }, finish(Unavailable, Cause::NothingDecoded)),
        ("eof before any frame on a live stream", Ending::Eof, Facts { frames_decoded: 0, ..LIVE }, finish(Unavailable, Cause::NothingDecoded)),
        ("eof of a file read to its end", Ending::Eof, Facts { covered_source: true, ..FILE }, finish(Ok, Cause::Recovered)),
        ("eof of a file with gaps, even if covered", Ending::Eof, Facts { gaps: true, covered_source: true, ..FILE }, finish(EndedEarly, Cause::Gaps)),
        ("eof of a short file is not reopened", Ending::Eof, FILE, finish(EndedEarly, Cause::EndedShort)),
        ("eof of a short HTTP file is reconnected", Ending::Eof, BASE, reconnect(100, EndedEarly, Cause::EndedShort)),
        ("eof of a live stream is reconnected, gaps or not", Ending::Eof, Facts { gaps: true, covered_source: true, ..LIVE }, reconnect(100, EndedEarly, Cause::EndedShort)),
        // Stall and connect timeout.
        ("stall is reconnected", Ending::Stalled, LIVE, reconnect(100, Stalled, Cause::Stalled)),
        ("stall of a file is reconnected too", Ending::Stalled, FILE, reconnect(100, Stalled, Cause::Stalled)),
        ("connect timeout before ever opening", Ending::ConnectTimeout, NEVER_OPENED, finish(Unavailable, Cause::ConnectTimeout)),
        ("connect timeout on a reconnect", Ending::ConnectTimeout, Facts { reconnects_done: 1, ..LIVE }, reconnect(200, EndedEarly, Cause::ConnectTimeout)),
        // Read and open errors.
        ("read error after opening is reconnected", FAILED, LIVE, reconnect(100, EndedEarly, Cause::Connection)),
        ("open error before ever opening (refused, 404)", Ending::Failed { opened: false, permanent: false }, NEVER_OPENED, finish(Unavailable, Cause::Connection)),
        ("permanent error with frames sampled", Ending::Failed { opened: true, permanent: true }, BASE, finish(EndedEarly, Cause::Connection)),
        ("permanent error before any sample (oversize frame)", Ending::Failed { opened: true, permanent: true }, Facts { frames_sampled: 0, ..BASE }, finish(Unavailable, Cause::Connection)),
        ("reopen fails after an earlier open, samples taken", Ending::Failed { opened: false, permanent: false }, BASE, reconnect(100, EndedEarly, Cause::Connection)),
        ("reopen fails after an earlier open, nothing sampled", Ending::Failed { opened: false, permanent: false }, Facts { frames_sampled: 0, ..BASE }, reconnect(100, Unavailable, Cause::Connection)),
        // Reconnect budget and backoff.
        ("second reconnect waits twice as long", Ending::Stalled, Facts { reconnects_done: 1, ..LIVE }, reconnect(200, Stalled, Cause::Stalled)),
        ("reconnect budget exhausted after a stall", Ending::Stalled, Facts { reconnects_done: 2, ..LIVE }, finish(Stalled, Cause::Stalled)),
        ("reconnect budget exhausted after a read error", FAILED, Facts { reconnects_done: 2, ..LIVE }, finish(EndedEarly, Cause::Connection)),
        ("reconnect budget exhausted after eof", Ending::Eof, Facts { reconnects_done: 2, ..BASE }, finish(EndedEarly, Cause::EndedShort)),
        ("no reconnect once the job limit has passed", Ending::Stalled, Facts { elapsed: Duration::from_secs(30), ..LIVE }, finish(Stalled, Cause::Stalled)),
        ("reconnect just before the job limit", Ending::Stalled, Facts { elapsed: ms(29_999), ..LIVE }, reconnect(100, Stalled, Cause::Stalled)),
    ];

    #[test]
    fn verdicts_pin_todays_behaviour() {
        for (name, ending, facts, expected) in CASES {
            assert_eq!(verdict(*ending, facts, &LIMITS), *expected, "{name}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let delays: Vec<u64> = (0..6)
            .map(|done| backoff(done, &LIMITS).as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 400, 400, 400]);
        // An initial wait above the cap is used once, as the old doubling loop did.
        let odd = Limits {
            backoff_initial: ms(1000),
            ..LIMITS
        };
        assert_eq!(backoff(0, &odd), ms(1000));
        assert_eq!(backoff(1, &odd), ms(400));
        assert_eq!(backoff(u32::MAX, &LIMITS), ms(400));
    }
}
