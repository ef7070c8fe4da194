//! Any bytes as an ONNX weights file (seeds: small valid exports, fuzzed and truncated): the
//! reader returns convolutions whose shapes and values are consistent, or an error.
#![no_main]

use detector_prepost::onnx::read_convs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(convs) = read_convs(data) else {
        return;
    };
    for conv in &convs {
        let count = conv
            .weight_shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(count, Some(conv.weight.len()), "{}", conv.weight_name);
        assert!(conv.weight.iter().all(|v| v.is_finite()));
        if let Some(bias) = &conv.bias {
            assert!(bias.iter().all(|v| v.is_finite()));
        }
        assert!(conv.groups >= 1);
    }
});
