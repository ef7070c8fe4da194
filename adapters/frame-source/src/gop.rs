//! Which compressed packets need decoding at all. Pure logic, no FFmpeg.
//!
//! Sampling one frame a second from a 25 fps stream decodes 25 frames for each one it keeps, and
//! on a live stream (HLS, RTSP) there is no seeking to jump over the rest. But a frame is only
//! needed if a sample, or a later frame of its group of pictures (GOP) that a sample needs,
//! refers to it. So packets are held back, not decoded, while their time is before the next due
//! sample. When the stream reaches the due time they are all decoded in order (the decoder sees
//! the GOP from its keyframe, exactly as before); when a keyframe comes first, nothing after it
//! refers to them and they are dropped undecoded. The decoder therefore sees a prefix of every
//! GOP, and every sampled frame is bit-identical to a full decode.
//!
//! Dropping is only safe when frames are not reordered (no B-frames): with reordering, frames of
//! an open GOP after a keyframe may refer to the frames before it. Reordering is detected from
//! the packets' timestamps (a presentation time earlier than one already seen), and from then on
//! nothing is held back in this connection.

/// Held packets are released (decoded) past these bounds, so a stream whose keyframes never
/// come costs memory like one GOP of a normal stream, then decodes as if nothing were held.
const MAX_HELD_PACKETS: usize = 1_000;
const MAX_HELD_BYTES: usize = 64 << 20;

/// A packet is held only when its time is this far before the next due sample, well inside the
/// sampler's own half-millisecond tolerance for frames just before a due time.
const DUE_MARGIN_S: f64 = 0.002;

/// The facts about one packet that the decision needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PacketFacts {
    /// The demuxer marked it as a keyframe (random access point).
    pub key: bool,
    /// Presentation time on the sampler's clock (seconds from the start of the stream), when
    /// known.
    pub t: Option<f64>,
    pub bytes: usize,
}

/// Holds back the packets no sample needs yet. `P` is the packet type (FFmpeg's in the decoder,
/// anything in tests).
#[derive(Debug)]
pub(crate) struct GopSkipper<P> {
    enabled: bool,
    held: Vec<(P, Option<f64>)>,
    held_bytes: usize,
    seen_key: bool,
    reordered: bool,
    latest_t: Option<f64>,
    /// Frames dropped undecoded so far (over the connections of one job).
    pub skipped: u64,
    /// Time of the latest dropped frame, for the report's coverage and gap checks.
    pub last_skipped_t: Option<f64>,
}

impl<P> GopSkipper<P> {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            held: Vec::new(),
            held_bytes: 0,
            seen_key: false,
            reordered: false,
            latest_t: None,
            skipped: 0,
            last_skipped_t: None,
        }
    }

    /// A new connection or a seek: the decoder starts over at a keyframe, and what was held
    /// belongs to a stretch nothing needs any more.
    pub(crate) fn restart(&mut self) {
        self.drop_held();
        self.seen_key = false;
        self.reordered = false;
        self.latest_t = None;
    }

    /// Takes the next packet of the video stream and appends the packets to decode now, in
    /// order, to `release` (nothing while it is held; the caller reuses the vector, so a packet
    /// costs no allocation). `next_due` is the sampler's next due time (None: decode all).
    pub(crate) fn push(
        &mut self,
        packet: P,
        facts: PacketFacts,
        next_due: Option<f64>,
        release: &mut Vec<P>,
    ) {
        if let Some(t) = facts.t {
            if self.latest_t.is_some_and(|latest| t < latest) {
                self.reordered = true;
            }
            self.latest_t = Some(self.latest_t.map_or(t, |latest| latest.max(t)));
        }
        if facts.key {
            // Nothing from here on refers to what is held: it was never needed.
            self.drop_held();
            self.seen_key = true;
        }
        let before_due = match (facts.t, next_due) {
            (Some(t), Some(due)) => t < due - DUE_MARGIN_S,
            _ => false,
        };
        let room = self.held.len() < MAX_HELD_PACKETS
            && self.held_bytes.saturating_add(facts.bytes) <= MAX_HELD_BYTES;
        if self.enabled && self.seen_key && !self.reordered && before_due && room {
            self.held.push((packet, facts.t));
            self.held_bytes += facts.bytes;
            return;
        }
        release.extend(self.held.drain(..).map(|(p, _)| p));
        self.held_bytes = 0;
        release.push(packet);
    }

    /// The end of the input: what is still held is after the last due sample.
    pub(crate) fn finish(&mut self) {
        self.drop_held();
    }

    fn drop_held(&mut self) {
        self.skipped += self.held.len() as u64;
        if let Some(t) = self.held.iter().filter_map(|(_, t)| *t).reduce(f64::max) {
            self.last_skipped_t = Some(self.last_skipped_t.map_or(t, |last| last.max(t)));
        }
        self.held.clear();
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `push` returning what it released, for short tests.
    fn push(
        skipper: &mut GopSkipper<u32>,
        packet: u32,
        facts: PacketFacts,
        due: Option<f64>,
    ) -> Vec<u32> {
        let mut release = Vec::new();
        skipper.push(packet, facts, due, &mut release);
        release
    }

    fn facts(key: bool, t: f64) -> PacketFacts {
        PacketFacts {
            key,
            t: Some(t),
            bytes: 100,
        }
    }

    /// Feeds a 25 fps stream with a keyframe every `gop` frames, sampling every `every` seconds
    /// from 0 (due times as the sampler would move them); returns the decoded frame numbers.
    fn decoded(frames: u32, gop: u32, every: f64) -> Vec<u32> {
        let mut skipper = GopSkipper::new(true);
        let mut due = 0.0;
        let mut out = Vec::new();
        for n in 0..frames {
            let t = f64::from(n) / 25.0;
            for frame in push(&mut skipper, n, facts(n % gop == 0, t), Some(due)) {
                out.push(frame);
                let frame_t = f64::from(frame) / 25.0;
                while due <= frame_t + 0.0005 {
                    due += every;
                }
            }
        }
        skipper.finish();
        assert_eq!(
            skipper.skipped as usize + out.len(),
            frames as usize,
            "every frame is either decoded or dropped"
        );
        out
    }

    #[test]
    fn one_sample_a_second_with_one_second_gops_decodes_only_the_keyframes() {
        assert_eq!(
            decoded(250, 25, 1.0),
            (0..10).map(|s| s * 25).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_sample_inside_a_gop_decodes_the_gop_up_to_it_and_nothing_after() {
        // Keyframes every 2 s, samples every 1.2 s: due 0, 1.2 (frame 30), 2.4 (60), 3.6 (90).
        let frames = decoded(100, 50, 1.2);
        let expected: Vec<u32> = std::iter::once(0)
            .chain(1..=30) // frames 1-29 held, then released with frame 30
            .chain(50..=60) // 31-49 dropped at keyframe 50; 50-59 held, released with 60
            .chain(61..=90) // 91-99 dropped at the end
            .collect();
        assert_eq!(frames, expected);
    }

    #[test]
    fn dense_sampling_decodes_everything() {
        assert_eq!(decoded(100, 25, 0.04), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_is_held_before_the_first_keyframe_or_without_a_due_time() {
        let mut skipper = GopSkipper::new(true);
        // Joined mid-GOP: no keyframe yet.
        assert_eq!(
            push(&mut skipper, 1, facts(false, 0.04), Some(5.0)),
            vec![1]
        );
        assert_eq!(push(&mut skipper, 2, facts(true, 0.08), None), vec![2]);
        assert_eq!(
            push(
                &mut skipper,
                3,
                PacketFacts {
                    key: false,
                    t: None,
                    bytes: 1
                },
                Some(5.0)
            ),
            vec![3]
        );
        // Disabled: decode all.
        let mut off = GopSkipper::new(false);
        assert_eq!(push(&mut off, 1, facts(true, 0.0), Some(5.0)), vec![1]);
        assert_eq!(push(&mut off, 2, facts(false, 0.04), Some(5.0)), vec![2]);
    }

    #[test]
    fn reordered_frames_turn_holding_off() {
        let mut skipper = GopSkipper::new(true);
        assert!(push(&mut skipper, 0, facts(true, 0.0), Some(1.0)).is_empty());
        // P at 0.12 then B at 0.04: B-frames, whose open GOPs may refer across a keyframe.
        assert!(push(&mut skipper, 1, facts(false, 0.12), Some(1.0)).is_empty());
        assert_eq!(
            push(&mut skipper, 2, facts(false, 0.04), Some(1.0)),
            vec![0, 1, 2]
        );
        assert_eq!(push(&mut skipper, 3, facts(true, 0.5), Some(1.0)), vec![3]);
        assert_eq!(skipper.skipped, 0);
    }

    #[test]
    fn a_restart_drops_what_is_held_and_waits_for_a_keyframe() {
        let mut skipper = GopSkipper::new(true);
        assert!(push(&mut skipper, 0, facts(true, 0.0), Some(1.0)).is_empty());
        assert!(push(&mut skipper, 1, facts(false, 0.04), Some(1.0)).is_empty());
        skipper.restart();
        assert_eq!(skipper.skipped, 2);
        assert_eq!(skipper.last_skipped_t, Some(0.04));
        assert_eq!(
            push(&mut skipper, 2, facts(false, 0.08), Some(1.0)),
            vec![2]
        );
    }

    #[test]
    fn the_held_packets_are_bounded() {
        let mut skipper = GopSkipper::new(true);
        let mut released = 0;
        for n in 0..(MAX_HELD_PACKETS as u32 + 5) {
            let key = n == 0;
            released += push(&mut skipper, n, facts(key, f64::from(n) * 0.001), Some(1e9)).len();
        }
        assert_eq!(released, MAX_HELD_PACKETS + 1);
    }
}
