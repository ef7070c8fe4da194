//! `footfall detect`: people (and other COCO objects) in image files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use detector_core::{Detection, PostprocessConfig};
use detector_prepost::annotate::{annotate, class_name, encode_jpeg};
use detector_prepost::frame::load_image;
use serde::Serialize;

use crate::model_args::{ModelArgs, ThresholdArgs};

/// Thresholds at which people are counted in the report.
const COUNT_THRESHOLDS: [(&str, f32); 3] = [("0.25", 0.25), ("0.35", 0.35), ("0.50", 0.50)];

/// Arguments of `footfall detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write annotated copies (`<stem>.annotated.jpg`) into this folder.
    #[arg(long, value_name = "DIR")]
    pub annotate: Option<PathBuf>,
    /// Image files (JPEG, PNG, BMP, WebP).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

/// One detection as the reference format has it: `[x1, y1, x2, y2, score, class_id]`, the
/// class id an integer.
struct DetectionRow(Detection);

impl Serialize for DetectionRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let d = &self.0;
        let mut row = serializer.serialize_tuple(6)?;
        for value in [d.x1, d.y1, d.x2, d.y2, d.score] {
            row.serialize_element(&f64::from(value))?;
        }
        row.serialize_element(&d.class_id)?;
        row.end()
    }
}

#[derive(Serialize)]
struct ImageReport {
    /// The file name (what the reference outputs are keyed by).
    image: String,
    /// The path as given, so two `a.jpg` in different folders stay apart.
    path: String,
    width: u32,
    height: u32,
    detections: Vec<DetectionRow>,
    person_count: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotated: Option<String>,
}

#[derive(Serialize)]
struct ImageError {
    image: String,
    path: String,
    error: String,
}

#[derive(Serialize)]
struct Report {
    images: Vec<ImageReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ImageError>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Runs the command; the exit status is 1 when an image could not be processed.
pub fn run(args: DetectArgs) -> anyhow::Result<u8> {
    let wanted = args.thresholds.postprocess();
    // Detect down to the lowest reported count threshold so that every count is exact.
    let decode_config = PostprocessConfig {
        score_threshold: wanted.score_threshold.min(COUNT_THRESHOLDS[0].1),
        ..wanted
    };
    let detector = args
        .model
        .load_detector(wanted)
        .context("cannot start the detector")?;
    tracing::info!(backend = detector.backend(), model = %detector.model_size(), images = args.images.len(), "detecting");
    if let Some(dir) = &args.annotate {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    // Annotated copies are named after the file; a name used twice gets a suffix, so no
    // picture overwrites another.
    let mut names_used = std::collections::HashMap::<String, usize>::new();
    let mut report = Report {
        images: Vec::new(),
        errors: Vec::new(),
    };
    // Decode and run a batch at a time, so memory stays bounded by the batch, not the list.
    for paths in args.images.chunks(args.model.batch.max(1)) {
        let mut frames = Vec::new();
        let mut names = Vec::new();
        for path in paths {
            match load_image(path) {
                Ok(frame) => {
                    frames.push(frame);
                    names.push(path.clone());
                }
                Err(e) => {
                    tracing::error!(image = %path.display(), error = %e, "skipping image");
                    report.errors.push(ImageError {
                        image: file_name(path),
                        path: path.display().to_string(),
                        error: e.to_string(),
                    });
                }
            }
        }
        if frames.is_empty() {
            continue;
        }
        let detections = detector.detect_with(&frames, &decode_config)?;
        for ((path, frame), dets) in names.iter().zip(&frames).zip(detections) {
            let mut person_count = serde_json::Map::new();
            for (key, threshold) in COUNT_THRESHOLDS {
                let n = dets
                    .iter()
                    .filter(|d| d.is_person() && d.score >= threshold)
                    .count();
                person_count.insert(key.into(), n.into());
            }
            let kept: Vec<Detection> = dets
                .into_iter()
                .filter(|d| d.score >= wanted.score_threshold)
                .collect();
            let annotated = match &args.annotate {
                Some(dir) => {
                    let people = kept.iter().filter(|d| d.is_person()).count();
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let seen = names_used.entry(stem.clone()).or_insert(0);
                    *seen += 1;
                    let out = if *seen == 1 {
                        dir.join(format!("{stem}.annotated.jpg"))
                    } else {
                        dir.join(format!("{stem}-{seen}.annotated.jpg"))
                    };
                    let jpeg = encode_jpeg(&annotate(frame, &kept, people), 90)?;
                    std::fs::write(&out, jpeg)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    Some(out.display().to_string())
                }
                None => None,
            };
            report.images.push(ImageReport {
                image: file_name(path),
                path: path.display().to_string(),
                width: frame.width(),
                height: frame.height(),
                detections: kept.into_iter().map(DetectionRow).collect(),
                person_count,
                annotated,
            });
        }
    }

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        print_table(&mut stdout, &report)?;
    }
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}

fn print_table(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<28} {:>11} {:>7} {:>7} {:>7}  objects",
        "image", "size", "p@0.25", "p@0.35", "p@0.50"
    )?;
    for r in &report.images {
        let count = |k: &str| r.person_count.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        writeln!(
            out,
            "{:<28} {:>11} {:>7} {:>7} {:>7}  {}",
            r.path,
            format!("{}x{}", r.width, r.height),
            count("0.25"),
            count("0.35"),
            count("0.50"),
            r.detections.len()
        )?;
        for DetectionRow(d) in &r.detections {
            writeln!(
                out,
                "    {:<14} {:.3}  [{:.1}, {:.1}, {:.1}, {:.1}]",
                class_name(d.class_id),
                d.score,
                d.x1,
                d.y1,
                d.x2,
                d.y2
            )?;
        }
    }
    for e in &report.errors {
        writeln!(out, "{:<28} ERROR {}", e.path, e.error)?;
    }
    Ok(())
}
