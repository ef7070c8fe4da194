//! No data is not zero (issue 12): the sampling times that fall in a hole of the stream (here
//! the shared 10 s HLS with its third 2 s segment replaced by garbage) are samples without a
//! frame, `null` in the report, left out of the statistics and fed to the tracker as samples
//! without data; the health says why.

use std::collections::HashMap;
use std::time::Duration;

use footfall_domain::StreamHealth;
use footfall_job::{CounterError, PeopleCounter, PersonBox, count_stream_tracked};
use frame_source::{JobOptions, SamplingPolicy, SourceSpec, StopHandle};
use image::RgbImage;
use stream_server::{Fault, LoopbackServer, shared_dir};

/// Two people in every frame.
struct Two;

impl PeopleCounter for Two {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(vec![2; frames.len()])
    }
    fn annotated_jpeg(&self, _frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        Ok(Vec::new())
    }
    fn people_boxes(&self, frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        let two = vec![
            PersonBox::new([100.0, 100.0, 160.0, 300.0], 0.9),
            PersonBox::new([300.0, 100.0, 360.0, 300.0], 0.9),
        ];
        Ok(vec![two; frames.len()])
    }
}

fn count_with_a_hole(tracking: Option<footfall_tracking::Counting>) -> footfall_job::CountReport {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let garbage: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let files = HashMap::from([("/seg_002.ts".to_string(), garbage)]);
    let server =
        LoopbackServer::start(Some(&shared.join("video/hls")), files, Fault::None).unwrap();
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let options = JobOptions {
        sampling: SamplingPolicy::Every(Duration::from_secs(1)),
        ..JobOptions::default()
    };
    count_stream_tracked(
        spec,
        options,
        &Two,
        StopHandle::new(),
        tracking,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn samples_in_a_hole_of_the_stream_are_null_and_left_out_of_the_statistics() {
    let report = count_with_a_hole(None);
    assert_eq!(
        report.health,
        StreamHealth::EndedEarly,
        "the health says why"
    );
    let holes: Vec<f64> = report
        .samples
        .iter()
        .filter(|s| s.people.is_none())
        .map(|s| s.t)
        .collect();
    assert!(!holes.is_empty(), "{:?}", report.samples);
    assert!(
        holes.iter().all(|t| (3.5..6.5).contains(t)),
        "only the hole (4..6 s) is null: {holes:?}"
    );
    assert_eq!(report.frames(), report.samples.len() - holes.len());
    assert_eq!(report.summary.frames, report.frames());
    assert_eq!(
        (report.summary.max, report.summary.median),
        (Some(2), Some(2)),
        "nulls are not zeros"
    );
    let json = report.to_json(None);
    let nulls = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["people"].is_null())
        .count();
    assert_eq!(nulls, holes.len());
    assert_eq!(json["frames"], report.frames());

    // A tracking job sees the same hole as samples without data: two people throughout, so
    // the zone over one of them has its occupancy from the frames only.
    let counting = footfall_tracking::Counting::new(footfall_tracking::CountingConfig {
        zones: vec!["left=0,0,200,0,200,400,0,400".parse().unwrap()],
        ..Default::default()
    })
    .unwrap();
    let tracked = count_with_a_hole(Some(counting));
    let null_times: Vec<f64> = tracked
        .samples
        .iter()
        .filter(|s| s.people.is_none())
        .map(|s| s.t)
        .collect();
    assert_eq!(null_times, holes);
    let summary = tracked.tracking.clone().unwrap();
    assert_eq!(summary.zones[0].max, Some(1));
    // One person in the zone in every frame, counted from the second frame on (a track is
    // confirmed on its second sample): the mean is over the frames, the hole is not a zero.
    let frames = tracked.frames() as f64;
    assert_eq!(
        summary.zones[0].mean,
        Some((frames - 1.0) / frames),
        "the hole is not a zero"
    );
    assert_eq!(summary.tracking.unique_people, 2, "tracks survive the hole");
}
