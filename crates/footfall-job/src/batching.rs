//! One forward pass for frames from several streams.
//!
//! Jobs that run at once (`run-schedule --concurrency N`) share one detector. A live stream
//! sampled at 1 frame/s hands its job one frame at a time, so without help each forward pass
//! would carry a single frame while the other jobs queue for the detector. [`BatchingCounter`]
//! joins the requests that queue while a pass runs into the next pass (up to `max_frames`), and
//! hands each job its own part of the answer. Nothing waits for a batch to fill: a request that
//! finds the detector idle runs at once, so a lone job sees no added latency and batches grow
//! only with the load (the "natural batching" of inference servers).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use image::RgbImage;

use crate::counter::{CounterError, PeopleCounter, PersonBox};

/// Which answer a request wants; only requests of one kind share a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counts,
    Boxes,
}

enum Answer {
    Counts(Vec<usize>),
    Boxes(Vec<Vec<PersonBox>>),
}

struct Request {
    id: u64,
    kind: Kind,
    /// The caller's frames (moved into the pass that takes them) and how many there are.
    frames: Vec<RgbImage>,
    len: usize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Request>,
    /// A pass is running (its leader holds no lock meanwhile).
    busy: bool,
    next_id: u64,
    /// Finished requests by id; an error is shared by every request of its pass, as text.
    answers: HashMap<u64, Result<Answer, String>>,
    /// Frames per pass so far, for the log line at the end.
    passes: u64,
    frames: u64,
}

/// A [`PeopleCounter`] that puts frames of concurrent callers into one pass of `inner`.
pub struct BatchingCounter<C> {
    inner: C,
    max_frames: usize,
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl<C: PeopleCounter> BatchingCounter<C> {
    /// `max_frames`: the most frames of one pass (the detector's batch size).
    pub fn new(inner: C, max_frames: usize) -> Self {
        Self {
            inner,
            max_frames: max_frames.max(1),
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }
    }

    /// Passes run and frames counted so far: `frames / passes` is the mean batch.
    pub fn passes_and_frames(&self) -> (u64, u64) {
        self.lock()
            .map_or((0, 0), |queue| (queue.passes, queue.frames))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Queue>, CounterError> {
        self.queue
            .lock()
            .map_err(|_| "the batching queue was poisoned by a panic".into())
    }

    fn submit(&self, kind: Kind, frames: &[RgbImage]) -> Result<Answer, CounterError> {
        let mut queue = self.lock()?;
        let id = queue.next_id;
        queue.next_id += 1;
        queue.waiting.push_back(Request {
            id,
            kind,
            frames: frames.to_vec(),
            len: frames.len(),
        });
        loop {
            if let Some(answer) = queue.answers.remove(&id) {
                return answer.map_err(CounterError::from);
            }
            if queue.busy {
                queue = self
                    .changed
                    .wait(queue)
                    .map_err(|_| "the batching queue was poisoned by a panic")?;
                continue;
            }
            // The detector is idle: this caller runs the next pass for everyone queued.
            queue.busy = true;
            let mut batch = take_batch(&mut queue.waiting, self.max_frames);
            // The pass owns the frames; each request keeps its id and frame count.
            let frames: Vec<RgbImage> = batch
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.frames))
                .collect();
            let parts: Vec<(u64, usize)> = batch.iter().map(|r| (r.id, r.len)).collect();
            let kind = batch.first().map_or(Kind::Counts, |r| r.kind);
            drop(batch);
            drop(queue);
            // A panic in the counter must not leave the queue busy for ever.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(kind, &frames)))
                    .unwrap_or_else(|_| Err("the people counter panicked".to_string()));
            queue = self
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.busy = false;
            queue.passes += 1;
            queue.frames += frames.len() as u64;
            distribute(&mut queue.answers, &parts, result);
            self.changed.notify_all();
        }
    }

    /// One pass of `inner` over the batch's frames, in request order.
    fn run(&self, kind: Kind, frames: &[RgbImage]) -> Result<Answer, String> {
        let result = match kind {
            Kind::Counts => self.inner.count(frames).map(Answer::Counts),
            Kind::Boxes => self.inner.people_boxes(frames).map(Answer::Boxes),
        };
        let answer = result.map_err(|e| e.to_string())?;
        let len = match &answer {
            Answer::Counts(counts) => counts.len(),
            Answer::Boxes(boxes) => boxes.len(),
        };
        if len != frames.len() {
            return Err(format!(
                "the counter answered for {len} frames of {}",
                frames.len()
            ));
        }
        Ok(answer)
    }
}

/// The first waiting request and those after it of the same kind, up to `max_frames` frames
/// (the first is taken whatever its size, so nothing waits forever).
fn take_batch(waiting: &mut VecDeque<Request>, max_frames: usize) -> Vec<Request> {
    let Some(first) = waiting.pop_front() else {
        return Vec::new();
    };
    let kind = first.kind;
    let mut frames = first.len;
    let mut batch = vec![first];
    let mut rest = VecDeque::with_capacity(waiting.len());
    while let Some(request) = waiting.pop_front() {
        if request.kind == kind && frames + request.len <= max_frames {
            frames += request.len;
            batch.push(request);
        } else {
            rest.push_back(request);
        }
    }
    *waiting = rest;
    batch
}

/// Splits one pass's answer into each request's part (`(id, frames)` in pass order).
fn distribute(
    answers: &mut HashMap<u64, Result<Answer, String>>,
    parts: &[(u64, usize)],
    result: Result<Answer, String>,
) {
    let mut offset = 0;
    for &(id, len) in parts {
        let range = offset..offset + len;
        offset = range.end;
        let part = match &result {
            Err(message) => Err(message.clone()),
            Ok(Answer::Counts(counts)) => Ok(Answer::Counts(counts[range].to_vec())),
            Ok(Answer::Boxes(boxes)) => Ok(Answer::Boxes(boxes[range].to_vec())),
        };
        answers.insert(id, part);
    }
}

impl<C: PeopleCounter> PeopleCounter for BatchingCounter<C> {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        match self.submit(Kind::Counts, frames)? {
            Answer::Counts(counts) => Ok(counts),
            Answer::Boxes(_) => Err("the batch answered with boxes instead of counts".into()),
        }
    }

    fn people_boxes(&self, frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        match self.submit(Kind::Boxes, frames)? {
            Answer::Boxes(boxes) => Ok(boxes),
            Answer::Counts(_) => Err("the batch answered with counts instead of boxes".into()),
        }
    }

    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        // Once per job: not worth a queue.
        self.inner.annotated_jpeg(frame)
    }

    fn count_min_score(&self) -> f32 {
        self.inner.count_min_score()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Counts a frame's people as its red value of pixel (0, 0); each pass takes 20 ms and is
    /// recorded, so a test sees the batches.
    #[derive(Default)]
    struct Recording {
        passes: Mutex<Vec<usize>>,
        running: AtomicUsize,
    }

    impl PeopleCounter for Recording {
        fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
            assert_eq!(
                self.running.fetch_add(1, Ordering::SeqCst),
                0,
                "passes overlap"
            );
            std::thread::sleep(Duration::from_millis(20));
            self.passes.lock().unwrap().push(frames.len());
            self.running.fetch_sub(1, Ordering::SeqCst);
            if frames.iter().any(|f| f.get_pixel(0, 0).0[1] == 255) {
                return Err("a poisoned frame".into());
            }
            assert!(
                frames.iter().all(|f| f.get_pixel(0, 0).0[1] != 254),
                "a frame that makes the counter panic"
            );
            Ok(frames
                .iter()
                .map(|f| usize::from(f.get_pixel(0, 0).0[0]))
                .collect())
        }

        fn annotated_jpeg(&self, _frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
            Ok(vec![0xff, 0xd8])
        }
    }

    fn frame(people: u8) -> RgbImage {
        RgbImage::from_pixel(4, 4, image::Rgb([people, 0, 0]))
    }

    #[test]
    fn concurrent_callers_share_passes_and_each_gets_its_own_answer() {
        let counter = Arc::new(BatchingCounter::new(Recording::default(), 8));
        let threads: Vec<_> = (0..16u8)
            .map(|job| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for round in 0..3u8 {
                        let frames = [frame(job), frame(job + round)];
                        let counts = counter.count(&frames).unwrap();
                        assert_eq!(counts, vec![usize::from(job), usize::from(job + round)]);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let passes = counter.inner.passes.lock().unwrap().clone();
        assert_eq!(passes.iter().sum::<usize>(), 16 * 3 * 2);
        assert!(passes.iter().all(|&n| n <= 8), "{passes:?}");
        // 16 callers with 2 frames each against 20 ms passes: most passes are full.
        assert!(passes.len() <= 24, "{} passes: {passes:?}", passes.len());
        assert_eq!(counter.passes_and_frames(), (passes.len() as u64, 96));
    }

    #[test]
    fn a_lone_caller_runs_at_once_and_oversized_requests_go_through_whole() {
        let counter = BatchingCounter::new(Recording::default(), 4);
        assert_eq!(counter.count(&[frame(3)]).unwrap(), vec![3]);
        let ten: Vec<RgbImage> = (0..10).map(frame).collect();
        assert_eq!(counter.count(&ten).unwrap(), (0..10).collect::<Vec<_>>());
        assert_eq!(counter.count(&[]).unwrap(), Vec::<usize>::new());
        assert_eq!(*counter.inner.passes.lock().unwrap(), vec![1, 10]);
    }

    #[test]
    fn a_failed_or_panicking_pass_fails_its_requests_and_the_next_pass_runs() {
        let counter = Arc::new(BatchingCounter::new(Recording::default(), 8));
        let poisoned = RgbImage::from_pixel(4, 4, image::Rgb([1, 255, 0]));
        let bad = {
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || counter.count(&[poisoned]))
        };
        let error = bad.join().unwrap().unwrap_err();
        assert!(error.to_string().contains("poisoned frame"), "{error}");
        assert_eq!(counter.count(&[frame(2)]).unwrap(), vec![2]);
        // A panic inside the pass is an error for its callers, and the queue goes on.
        let panicking = RgbImage::from_pixel(4, 4, image::Rgb([1, 254, 0]));
        let error = counter.count(&[panicking]).unwrap_err();
        assert!(error.to_string().contains("panicked"), "{error}");
        assert_eq!(counter.count(&[frame(5)]).unwrap(), vec![5]);
    }

    #[test]
    fn boxes_are_asked_for_separately_and_counters_without_boxes_say_so() {
        let counter = BatchingCounter::new(Recording::default(), 8);
        let error = counter.people_boxes(&[frame(1)]).unwrap_err();
        assert!(error.to_string().contains("gives no boxes"), "{error}");
        assert_eq!(counter.count(&[frame(1)]).unwrap(), vec![1]);
    }
}
