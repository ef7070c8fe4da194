//! Synthetic scenes with known truth: people cut out of the shared photos along their
//! reference boxes, pasted feet-first at positions interpolated between timed stops, over a
//! plain background, with optional occluders drawn in front; encoded at 10 frames a second.

use image::{Rgb, RgbImage, imageops};

/// Frames per second of the written videos (each frame is one sample at `--fps 10`).
pub const FPS: u32 = 10;
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;
/// Height of every person on screen, in pixels.
const PERSON_HEIGHT: u32 = 160;

/// Standing, unoccluded people of the shared photos: (photo, box). The boxes are the reference
/// boxes of golden/yolox_nano.json (000000002532's narrowed by 6 % a side to leave out the
/// edge of the next person); each was chosen because, pasted on this background at any of 18
/// positions, the detector finds exactly one person in it at 0.25 (several other photos'
/// people give a second, partial box at some positions).
const PEOPLE: [(&str, [u32; 4]); 4] = [
    ("000000007088.jpg", [180, 205, 273, 463]),
    ("000000002532.jpg", [188, 303, 265, 479]),
    ("000000009448.jpg", [136, 94, 368, 637]),
    ("bus.jpg", [219, 403, 347, 855]),
];

/// The four people, cut out and scaled to [`PERSON_HEIGHT`].
pub fn actors() -> Vec<RgbImage> {
    let shared = stream_server::shared_dir().unwrap_or_else(|message| panic!("{message}"));
    PEOPLE
        .iter()
        .map(|(photo, [x1, y1, x2, y2])| {
            let path = shared.join("images").join(photo);
            let image = image::open(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
                .to_rgb8();
            let cut = imageops::crop_imm(&image, *x1, *y1, x2 - x1, y2 - y1).to_image();
            let width = (PERSON_HEIGHT as f32 * cut.width() as f32 / cut.height() as f32).round();
            imageops::resize(
                &cut,
                width as u32,
                PERSON_HEIGHT,
                imageops::FilterType::Triangle,
            )
        })
        .collect()
}

/// Where the feet (bottom centre) are at a time.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    pub t: f64,
    pub feet: (f32, f32),
}

impl Stop {
    pub fn at(t: f64, feet: (f32, f32)) -> Self {
        Self { t, feet }
    }
}

/// A person on screen from the first stop to the last, moving straight between stops.
pub struct Actor {
    image: RgbImage,
    stops: Vec<Stop>,
    /// Between these times the feet move `amplitude` px left and right (period 0.6 s).
    wobble: Option<(f64, f64, f32)>,
}

impl Actor {
    pub fn new(image: &RgbImage, stops: Vec<Stop>) -> Self {
        assert!(
            stops.windows(2).all(|w| w[0].t < w[1].t),
            "stops in time order"
        );
        Self {
            image: image.clone(),
            stops,
            wobble: None,
        }
    }

    pub fn wobbling(mut self, from: f64, to: f64, amplitude: f32) -> Self {
        self.wobble = Some((from, to, amplitude));
        self
    }

    fn feet(&self, t: f64) -> Option<(f32, f32)> {
        let (first, last) = (self.stops.first()?, self.stops.last()?);
        if t < first.t || t > last.t {
            return None;
        }
        let pair = self.stops.windows(2).find(|w| t <= w[1].t);
        let (mut x, y) = match pair {
            Some([a, b]) => {
                let f = ((t - a.t) / (b.t - a.t)) as f32;
                (
                    a.feet.0 + (b.feet.0 - a.feet.0) * f,
                    a.feet.1 + (b.feet.1 - a.feet.1) * f,
                )
            }
            _ => first.feet,
        };
        if let Some((from, to, amplitude)) = self.wobble
            && (from..=to).contains(&t)
        {
            x += amplitude * (std::f64::consts::TAU * (t - from) / 0.6).sin() as f32;
        }
        Some((x, y))
    }
}

/// A scene: actors over a plain background, then occluders (`[x1, y1, x2, y2]`) in front.
pub struct Scene {
    pub duration_s: f64,
    pub actors: Vec<Actor>,
    pub occluders: Vec<[u32; 4]>,
}

impl Scene {
    /// Frame `i` (at `i / FPS` seconds).
    pub fn frame(&self, i: u32) -> RgbImage {
        let t = f64::from(i) / f64::from(FPS);
        // A floor a little lighter towards the bottom, like a lit corridor.
        let mut frame = RgbImage::from_fn(WIDTH, HEIGHT, |_, y| {
            let v = 95 + (40 * y / HEIGHT) as u8;
            Rgb([v, v, v.saturating_sub(8)])
        });
        for actor in &self.actors {
            if let Some((x, y)) = actor.feet(t) {
                let left = (x - actor.image.width() as f32 / 2.0).round() as i64;
                let top = (y - actor.image.height() as f32).round() as i64;
                imageops::overlay(&mut frame, &actor.image, left, top);
            }
        }
        for &[x1, y1, x2, y2] in &self.occluders {
            for y in y1..y2.min(HEIGHT) {
                for x in x1..x2.min(WIDTH) {
                    frame.put_pixel(x, y, Rgb([70, 60, 55]));
                }
            }
        }
        frame
    }

    /// Encodes the scene (H.264, yuv420p) to `path` and returns it.
    pub fn write(&self, path: &std::path::Path) -> std::path::PathBuf {
        use video_rs::encode::{Encoder, Settings};
        video_rs::init().unwrap();
        let settings = Settings::preset_h264_yuv420p(WIDTH as usize, HEIGHT as usize, false);
        let mut encoder = Encoder::new(path, settings).unwrap();
        // One frame more than the scene shows: the last frame sent to video-rs's encoder does
        // not reach the MP4 (ffprobe counts 149 frames after 150 were encoded).
        let frames = (self.duration_s * f64::from(FPS)).round() as u32;
        for i in 0..=frames {
            let frame = self.frame(i);
            let array = video_rs::Frame::from_shape_vec(
                (HEIGHT as usize, WIDTH as usize, 3),
                frame.into_raw(),
            )
            .unwrap();
            let t = video_rs::Time::from_secs_f64(f64::from(i) / f64::from(FPS));
            encoder.encode(&array, t).unwrap();
        }
        encoder.finish().unwrap();
        path.to_path_buf()
    }
}
