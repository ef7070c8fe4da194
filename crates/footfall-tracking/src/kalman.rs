//! The constant-velocity Kalman filter of SORT and ByteTrack, on plain `f32` arrays.
//!
//! State (8): `[cx, cy, a, h, vcx, vcy, va, vh]`: box centre, aspect ratio `a = w / h`, height,
//! and their velocities per frame step. Measurement (4): `[cx, cy, a, h]` of a detection box.
//! The motion model is constant velocity (`x' = x + v dt`); process and measurement noise are
//! proportional to the box height, with the weights of the reference implementation
//! (`std_weight_position = 1/20`, `std_weight_velocity = 1/160`), so a tall (near) person is
//! allowed to move more pixels than a small (far) one.
//!
//! - A. Bewley, Z. Ge, L. Ott, F. Ramos, B. Upcroft, "Simple Online and Realtime Tracking"
//!   (SORT), ICIP 2016, arXiv:1602.00763: the constant-velocity box model.
//! - N. Wojke, A. Bewley, D. Paulus, "Simple Online and Realtime Tracking with a Deep
//!   Association Metric" (DeepSORT), ICIP 2017, arXiv:1703.07402: the `(cx, cy, a, h)` state and
//!   height-proportional noise, kept unchanged by ByteTrack.
//! - Y. Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
//!   ECCV 2022, arXiv:2110.06864 (`yolox/tracker/kalman_filter.py`).
//!
//! One extension: [`KalmanFilter::predict`] takes the elapsed time `dt` in frame steps (1.0 at
//! the nominal sampling rate), so a sample that could not be read (no frame) is bridged by one
//! prediction of `dt = 2` instead of a velocity that is wrong by a factor. The process noise is
//! scaled by `dt` (a random walk's variance grows linearly in time); at `dt = 1` everything is
//! exactly the reference filter.

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

/// State dimension.
pub const STATE_DIM: usize = 8;
/// Measurement dimension.
pub const MEAS_DIM: usize = 4;

/// An 8x8 matrix, row-major.
pub type Mat8 = [[f32; STATE_DIM]; STATE_DIM];
/// A 4x4 matrix, row-major.
pub type Mat4 = [[f32; MEAS_DIM]; MEAS_DIM];

/// Mean and covariance of one track's state.
#[derive(Debug, Clone, PartialEq)]
pub struct KalmanState {
    /// `[cx, cy, a, h, vcx, vcy, va, vh]`.
    pub mean: [f32; STATE_DIM],
    pub covariance: Mat8,
}

impl KalmanState {
    /// The measurement part of the mean: `[cx, cy, a, h]`.
    pub fn xyah(&self) -> [f32; MEAS_DIM] {
        [self.mean[0], self.mean[1], self.mean[2], self.mean[3]]
    }
}

/// The filter's noise weights (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KalmanFilter {
    pub std_weight_position: f32,
    pub std_weight_velocity: f32,
}

impl Default for KalmanFilter {
    fn default() -> Self {
        Self {
            std_weight_position: 1.0 / 20.0,
            std_weight_velocity: 1.0 / 160.0,
        }
    }
}

impl KalmanFilter {
    /// A new track from its first measurement: zero velocity, wide uncertainty (2x the position
    /// and 10x the velocity noise of one step).
    pub fn initiate(&self, measurement: [f32; MEAS_DIM]) -> KalmanState {
        let h = measurement[3];
        let (wp, wv) = (self.std_weight_position, self.std_weight_velocity);
        let std = [
            2.0 * wp * h,
            2.0 * wp * h,
            1e-2,
            2.0 * wp * h,
            10.0 * wv * h,
            10.0 * wv * h,
            1e-5,
            10.0 * wv * h,
        ];
        let mut mean = [0.0; STATE_DIM];
        mean[..MEAS_DIM].copy_from_slice(&measurement);
        KalmanState {
            mean,
            covariance: diag_sq(&std),
        }
    }

    /// Advances the state by `dt` frame steps: `x = F x`, `P = F P F^T + Q dt`.
    pub fn predict(&self, state: &mut KalmanState, dt: f32) {
        let dt = dt.max(0.0);
        let h = state.mean[3];
        let (wp, wv) = (self.std_weight_position, self.std_weight_velocity);
        let std = [wp * h, wp * h, 1e-2, wp * h, wv * h, wv * h, 1e-5, wv * h];
        for i in 0..MEAS_DIM {
            state.mean[i] += dt * state.mean[i + MEAS_DIM];
        }
        let mut f = identity8();
        for (i, row) in f.iter_mut().take(MEAS_DIM).enumerate() {
            row[i + MEAS_DIM] = dt;
        }
        let mut p = mul8(&mul8(&f, &state.covariance), &transpose8(&f));
        for (i, s) in std.iter().enumerate() {
            p[i][i] += s * s * dt;
        }
        state.covariance = p;
    }

    /// The measurement noise `R` for a state of height `h`.
    fn measurement_noise(&self, h: f32) -> [f32; MEAS_DIM] {
        let wp = self.std_weight_position;
        let std = [wp * h, wp * h, 1e-1, wp * h];
        std.map(|s| s * s)
    }

    /// The state projected into measurement space: mean `H x` and covariance `H P H^T + R`.
    pub fn project(&self, state: &KalmanState) -> ([f32; MEAS_DIM], Mat4) {
        let r = self.measurement_noise(state.mean[3]);
        let mut s = [[0.0; MEAS_DIM]; MEAS_DIM];
        for i in 0..MEAS_DIM {
            for j in 0..MEAS_DIM {
                s[i][j] = state.covariance[i][j];
            }
            s[i][i] += r[i];
        }
        (state.xyah(), s)
    }

    /// Corrects the state with a measurement `[cx, cy, a, h]`:
    /// `K = P H^T S^-1`, `x += K (z - H x)`, `P -= K S K^T` (with `S K^T = H P`).
    pub fn update(&self, state: &mut KalmanState, measurement: [f32; MEAS_DIM]) {
        let (projected, s) = self.project(state);
        // B = H P (4x8: the first four rows of P); K^T = S^-1 B.
        let mut b = [[0.0; STATE_DIM]; MEAS_DIM];
        b.copy_from_slice(&state.covariance[..MEAS_DIM]);
        let kt = cholesky_solve4(&s, &b);
        let innovation: [f32; MEAS_DIM] = std::array::from_fn(|i| measurement[i] - projected[i]);
        for i in 0..STATE_DIM {
            let mut dx = 0.0;
            for k in 0..MEAS_DIM {
                dx += kt[k][i] * innovation[k];
            }
            state.mean[i] += dx;
        }
        let p = &mut state.covariance;
        for i in 0..STATE_DIM {
            for j in 0..STATE_DIM {
                let mut d = 0.0;
                for k in 0..MEAS_DIM {
                    d += kt[k][i] * b[k][j];
                }
                p[i][j] -= d;
            }
        }
        // Keep P symmetric against rounding.
        for i in 0..STATE_DIM {
            for j in (i + 1)..STATE_DIM {
                let m = 0.5 * (p[i][j] + p[j][i]);
                p[i][j] = m;
                p[j][i] = m;
            }
        }
    }
}

fn diag_sq(std: &[f32; STATE_DIM]) -> Mat8 {
    let mut m = [[0.0; STATE_DIM]; STATE_DIM];
    for (i, s) in std.iter().enumerate() {
        m[i][i] = s * s;
    }
    m
}

fn identity8() -> Mat8 {
    let mut m = [[0.0; STATE_DIM]; STATE_DIM];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

fn transpose8(a: &Mat8) -> Mat8 {
    std::array::from_fn(|i| std::array::from_fn(|j| a[j][i]))
}

fn mul8(a: &Mat8, b: &Mat8) -> Mat8 {
    let mut c = [[0.0; STATE_DIM]; STATE_DIM];
    for i in 0..STATE_DIM {
        for k in 0..STATE_DIM {
            let aik = a[i][k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..STATE_DIM {
                c[i][j] += aik * b[k][j];
            }
        }
    }
    c
}

/// Solves `S X = B` for a symmetric positive-definite 4x4 `S` by Cholesky (`S = L L^T`). A
/// pivot that rounding pushed to zero or below is clamped, so the result stays finite.
fn cholesky_solve4(s: &Mat4, b: &[[f32; STATE_DIM]; MEAS_DIM]) -> [[f32; STATE_DIM]; MEAS_DIM] {
    let mut l = [[0.0f32; MEAS_DIM]; MEAS_DIM];
    for i in 0..MEAS_DIM {
        for j in 0..=i {
            let mut sum = s[i][j];
            for k in 0..j {
                sum -= l[i][k] * l[j][k];
            }
            if i == j {
                l[i][i] = sum.max(1e-12).sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    // Forward: L Y = B.
    let mut y = *b;
    for c in 0..STATE_DIM {
        for i in 0..MEAS_DIM {
            let mut v = y[i][c];
            for k in 0..i {
                v -= l[i][k] * y[k][c];
            }
            y[i][c] = v / l[i][i];
        }
        // Backward: L^T X = Y.
        for i in (0..MEAS_DIM).rev() {
            let mut v = y[i][c];
            for k in (i + 1)..MEAS_DIM {
                v -= l[k][i] * y[k][c];
            }
            y[i][c] = v / l[i][i];
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn meas(k: f32) -> [f32; 4] {
        // Walks 6 px right and 2 px down per step; grows 0.5 px taller per step.
        [100.0 + 6.0 * k, 200.0 + 2.0 * k, 0.4, 100.0 + 0.5 * k]
    }

    #[test]
    fn constant_velocity_is_predicted_exactly_once_converged() {
        let kf = KalmanFilter::default();
        let mut s = kf.initiate(meas(0.0));
        let mut errors = Vec::new();
        for k in 1..=20 {
            kf.predict(&mut s, 1.0);
            let p = s.xyah();
            let m = meas(k as f32);
            errors.push(
                (p[0] - m[0])
                    .abs()
                    .max((p[1] - m[1]).abs())
                    .max((p[3] - m[3]).abs()),
            );
            kf.update(&mut s, m);
        }
        // The first prediction knows no velocity (6 px off); the error then dies out steadily.
        // With the reference's small velocity noise it takes a few tens of updates: under 1 px
        // after 8, 0.2 px after 20, exact (< 0.01 px) after 60.
        assert!(errors[0] > 5.0, "{errors:?}");
        assert!(errors.windows(2).all(|w| w[1] < w[0]), "{errors:?}");
        assert!(errors[7] < 1.0 && errors[19] < 0.2, "{errors:?}");
        for k in 21..=60 {
            kf.predict(&mut s, 1.0);
            let p = s.xyah();
            let m = meas(k as f32);
            if k == 60 {
                for i in 0..4 {
                    assert!((p[i] - m[i]).abs() < 0.01, "{p:?} vs {m:?}");
                }
            }
            kf.update(&mut s, m);
        }
        assert!((s.mean[4] - 6.0).abs() < 1e-2 && (s.mean[5] - 2.0).abs() < 1e-2);
        // A gap of three steps (two unread samples) is bridged by one prediction.
        kf.predict(&mut s, 3.0);
        let m = meas(63.0);
        for i in 0..4 {
            assert!((s.mean[i] - m[i]).abs() < 0.05, "{:?} vs {m:?}", s.mean);
        }
    }

    #[test]
    fn measurement_noise_is_smoothed_and_uncertainty_behaves() {
        let kf = KalmanFilter::default();
        let mut rng = Rng::new(7);
        let truth = [320.0, 240.0, 0.5, 120.0];
        let noisy = |rng: &mut Rng| {
            let mut m = truth;
            m[0] += rng.uniform(-2.0, 2.0);
            m[1] += rng.uniform(-2.0, 2.0);
            m[3] += rng.uniform(-2.0, 2.0);
            m
        };
        let mut s = kf.initiate(noisy(&mut rng));
        let (mut err_meas, mut err_filt) = (0.0f64, 0.0f64);
        for k in 0..400 {
            kf.predict(&mut s, 1.0);
            let var_before = s.covariance[0][0];
            let m = noisy(&mut rng);
            kf.update(&mut s, m);
            // A measurement shrinks the uncertainty; P stays symmetric with a positive diagonal.
            assert!(s.covariance[0][0] < var_before);
            for i in 0..STATE_DIM {
                assert!(s.covariance[i][i] > 0.0);
                for j in 0..STATE_DIM {
                    assert_eq!(s.covariance[i][j], s.covariance[j][i]);
                }
            }
            if k >= 50 {
                err_meas += f64::from((m[0] - truth[0]).powi(2));
                err_filt += f64::from((s.mean[0] - truth[0]).powi(2));
            }
        }
        // About 0.8 px RMS against 1.15 px: the reference filter trusts its measurements.
        assert!(err_filt < 0.7 * err_meas, "{err_filt} vs {err_meas}");
        assert!(
            s.mean[4].abs() < 0.5,
            "a still box gets no speed: {}",
            s.mean[4]
        );
        // Without measurements (a lost track) the position uncertainty only grows.
        let mut last = s.covariance[0][0];
        for _ in 0..10 {
            kf.predict(&mut s, 1.0);
            assert!(s.covariance[0][0] > last);
            last = s.covariance[0][0];
        }
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        let s = [
            [4.0, 1.0, 0.0, 0.0],
            [1.0, 3.0, 0.5, 0.0],
            [0.0, 0.5, 2.0, 0.1],
            [0.0, 0.0, 0.1, 1.0],
        ];
        let x_true: [[f32; 8]; 4] =
            std::array::from_fn(|i| std::array::from_fn(|j| (i * 8 + j) as f32 - 7.0));
        let mut b = [[0.0; 8]; 4];
        for i in 0..4 {
            for c in 0..8 {
                b[i][c] = (0..4).map(|k| s[i][k] * x_true[k][c]).sum();
            }
        }
        let x = cholesky_solve4(&s, &b);
        for i in 0..4 {
            for c in 0..8 {
                assert!((x[i][c] - x_true[i][c]).abs() < 1e-4);
            }
        }
    }
}
