//! Arbitrary raw network outputs (any f32 bit patterns: NaN, infinities, huge and subnormal
//! values) through YOLOX decode and NMS, for any frame geometry and thresholds: no panic, and
//! every detection is finite, above the score threshold, inside the frame and sorted.
#![no_main]

use detector_prepost::postprocess::{
    ClassFilter, NmsMode, PostprocessConfig, anchor_count, postprocess,
};
use detector_prepost::preprocess::Letterbox;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (head, body) = data.split_at(12);
    let num_classes = 1 + usize::from(head[0] % 4);
    let input_size = 32 * (1 + usize::from(head[1] % 3));
    let width = u32::from(u16::from_le_bytes([head[2], head[3]]));
    let height = u32::from(u16::from_le_bytes([head[4], head[5]]));
    let score_threshold = f32::from(head[6]) / 255.0;
    let iou_threshold = f32::from(head[7]) / 255.0;
    let config = PostprocessConfig {
        score_threshold,
        iou_threshold,
        nms: if head[8] & 1 == 0 {
            NmsMode::ClassAgnostic
        } else {
            NmsMode::PerClass
        },
        classes: if head[8] & 2 == 0 {
            ClassFilter::All
        } else {
            ClassFilter::PersonOnly
        },
    };
    // The raw tensor: the fuzz bytes as f32 values, cycled to the full size (or cut short when
    // head[9] says so, which must give no detections rather than a panic).
    let values: Vec<f32> = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.is_empty() {
        return;
    }
    let full = anchor_count(input_size) * (5 + num_classes);
    let len = if head[9] == 0xff {
        values.len().min(full)
    } else {
        full
    };
    let raw: Vec<f32> = values.iter().copied().cycle().take(len).collect();
    let letterbox = Letterbox::new(width, height, input_size);
    let dets = postprocess(&raw, num_classes, input_size, &letterbox, &config);
    for pair in dets.windows(2) {
        assert!(pair[0].score >= pair[1].score, "not sorted by score");
    }
    for d in &dets {
        for v in [d.x1, d.y1, d.x2, d.y2, d.score] {
            assert!(v.is_finite(), "{d:?}");
        }
        assert!(d.score >= score_threshold, "{d:?}");
        assert!(d.class_id < num_classes, "{d:?}");
        assert!(d.x1 >= 0.0 && d.y1 >= 0.0, "{d:?}");
        assert!(d.x2 <= width as f32 && d.y2 <= height as f32, "{d:?}");
    }
});
