//! Any bytes as each AWS payload: parsing and validation return a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payloads::{ControllerEvent, NotificationPayload, TaskPayload, ValidationPolicy};

fuzz_target!(|data: &[u8]| {
    let strict = ValidationPolicy::default();
    let _ = ControllerEvent::parse_slice(data, &strict);
    let _ = NotificationPayload::parse_slice(data, &strict);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TaskPayload::parse(text, &strict);
    }
});
