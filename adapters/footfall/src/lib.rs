//! The `footfall` command line as a library, so its behaviour is tested without the detector:
//! [`cli`] holds the `count`, `users`, `run-schedule` and `db` commands over any people counter.
//! The binary (`main.rs`) adds the detector and `detect`.

pub mod cli;
