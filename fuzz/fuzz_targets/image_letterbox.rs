//! Any bytes as an image file: decoding gives a frame or a clear error, never a panic, and the
//! letterbox of any decoded frame fills the network input with finite values. Memory stays
//! bounded by the decoder limits (`frame::MAX_SIDE`, `frame::MAX_PIXELS`, `frame::MAX_ALLOC`); `fuzz/run.sh` runs this
//! target with `-rss_limit_mb`, so an unbounded allocation is reported as a crash.
#![no_main]

use detector_prepost::frame::decode_image;
use detector_prepost::preprocess::letterbox_batch;
use libfuzzer_sys::fuzz_target;

/// Small input side so the letterbox of a large frame stays fast; geometry is size independent.
const INPUT: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = decode_image(data, "fuzz") else {
        return;
    };
    // Frames that large are legal but make each execution slow; their geometry is covered by
    // the small ones.
    if u64::from(frame.width()) * u64::from(frame.height()) > 4_000_000 {
        return;
    }
    let batch = letterbox_batch(std::slice::from_ref(&frame), INPUT);
    assert_eq!(batch.data.len(), 3 * INPUT * INPUT);
    assert!(batch.data.iter().all(|v| (0.0..=255.0).contains(v)));
    let lb = batch.letterboxes[0];
    assert!(lb.resized_width >= 1 && lb.resized_width <= INPUT);
    assert!(lb.resized_height >= 1 && lb.resized_height <= INPUT);
    assert!(lb.ratio.is_finite() && lb.ratio > 0.0);
});
