//! Linear assignment with a cost limit: which detection belongs to which track.
//!
//! Rows (tracks) and columns (detections) are matched one-to-one so that the sum of matched
//! costs plus `limit / 2` for every row and every column left unmatched is minimal. A pair is
//! thus matched only when that is cheaper than leaving both sides free, and a pair costing more
//! than `limit` is never matched. This is exactly what ByteTrack's `linear_assignment` asks of
//! `lap.lapjv(cost, extend_cost=True, cost_limit=thresh)`: the `rows x cols` problem is extended
//! to a square one of side `rows + cols`,
//!
//! ```text
//! | C          limit/2 |
//! | limit/2    0       |
//! ```
//!
//! and solved exactly by the Hungarian method (H. W. Kuhn, "The Hungarian method for the
//! assignment problem", Naval Research Logistics Quarterly 2, 1955; J. Munkres, "Algorithms for
//! the assignment and transportation problems", J. SIAM 5, 1957), in the O(n^3) shortest
//! augmenting path form with dual potentials (as in R. Jonker, A. Volgenant, Computing 38, 1987,
//! without their initialisation heuristics). The `lapjv` crate was not used: it takes an
//! `ndarray` matrix (a dependency this crate avoids), only square problems, and at the sizes a
//! people counter sees (tens of tracks) the extended Hungarian takes microseconds (see
//! `examples/track_speed.rs`).

/// The outcome of [`linear_assignment`]; indices refer to rows and columns of the cost matrix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// `(row, col)` pairs, sorted by row.
    pub matches: Vec<(usize, usize)>,
    pub unmatched_rows: Vec<usize>,
    pub unmatched_cols: Vec<usize>,
}

/// Solves the assignment for a row-major `rows x cols` cost matrix (see the module docs).
///
/// A NaN cost is treated as "never match". An infinite `limit` asks for a plain rectangular
/// assignment: as many pairs as possible (`min(rows, cols)`), at minimum total cost.
///
/// # Panics
/// If `cost.len() != rows * cols`.
pub fn linear_assignment(cost: &[f32], rows: usize, cols: usize, limit: f32) -> Assignment {
    assert_eq!(cost.len(), rows * cols, "cost matrix is not rows x cols");
    if rows == 0 || cols == 0 {
        return Assignment {
            matches: Vec::new(),
            unmatched_rows: (0..rows).collect(),
            unmatched_cols: (0..cols).collect(),
        };
    }
    // The cost of leaving one row and one column unmatched.
    let max_abs = cost
        .iter()
        .filter(|c| c.is_finite())
        .fold(0.0f64, |m, &c| m.max(f64::from(c).abs()));
    let pair_limit = if limit.is_finite() {
        f64::from(limit)
    } else {
        // Larger than any difference in matched cost: cardinality first.
        2.0 * (1.0 + max_abs) * (rows.min(cols) as f64 + 1.0)
    };
    // Anything above the limit is never chosen; clamp it to stay finite.
    let never = pair_limit.abs() + 1.0 + max_abs;
    let n = rows + cols;
    let mut ext = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            ext[i * n + j] = match (i < rows, j < cols) {
                (true, true) => {
                    let c = f64::from(cost[i * cols + j]);
                    if c.is_nan() || c > pair_limit {
                        never
                    } else {
                        c
                    }
                }
                (false, false) => 0.0,
                _ => pair_limit / 2.0,
            };
        }
    }
    let row_to_col = hungarian_square(&ext, n);
    let mut out = Assignment::default();
    let mut col_used = vec![false; cols];
    for (i, &j) in row_to_col.iter().enumerate().take(rows) {
        if j < cols && f64::from(cost[i * cols + j]) <= pair_limit {
            out.matches.push((i, j));
            col_used[j] = true;
        } else {
            out.unmatched_rows.push(i);
        }
    }
    out.unmatched_cols = (0..cols).filter(|&j| !col_used[j]).collect();
    out
}

/// Minimum-cost perfect matching of a square `n x n` matrix (row-major, finite entries):
/// returns the column of each row. Shortest augmenting paths with potentials, O(n^3).
fn hungarian_square(a: &[f64], n: usize) -> Vec<usize> {
    // 1-based arrays; index 0 is the virtual source column.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut p = vec![0usize; n + 1]; // p[j]: the row matched to column j (0 = none)
    let mut way = vec![0usize; n + 1];
    let mut minv = vec![0.0f64; n + 1];
    let mut used = vec![false; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        minv.fill(f64::INFINITY);
        used.fill(false);
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=n {
                if !used[j] {
                    let cur = a[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_to_col = vec![0usize; n];
    for j in 1..=n {
        row_to_col[p[j] - 1] = j - 1;
    }
    row_to_col
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// The objective of the module docs for one assignment.
    fn objective(cost: &[f32], rows: usize, cols: usize, limit: f32, a: &Assignment) -> f64 {
        let matched: f64 = a
            .matches
            .iter()
            .map(|&(i, j)| f64::from(cost[i * cols + j]))
            .sum();
        let free = (rows - a.matches.len()) + (cols - a.matches.len());
        matched + f64::from(limit) / 2.0 * free as f64
    }

    /// Every partial matching, tried in turn.
    fn brute_force(cost: &[f32], rows: usize, cols: usize, limit: f32) -> f64 {
        struct Search<'a> {
            cost: &'a [f32],
            rows: usize,
            cols: usize,
            limit: f64,
            used: Vec<bool>,
            best: f64,
        }
        impl Search<'_> {
            fn go(&mut self, i: usize, acc: f64, k: usize) {
                if i == self.rows {
                    let free = (self.rows - k) + (self.cols - k);
                    self.best = self.best.min(acc + self.limit / 2.0 * free as f64);
                    return;
                }
                self.go(i + 1, acc, k);
                for j in 0..self.cols {
                    let c = f64::from(self.cost[i * self.cols + j]);
                    if !self.used[j] && c <= self.limit {
                        self.used[j] = true;
                        self.go(i + 1, acc + c, k + 1);
                        self.used[j] = false;
                    }
                }
            }
        }
        let mut search = Search {
            cost,
            rows,
            cols,
            limit: f64::from(limit),
            used: vec![false; cols],
            best: f64::INFINITY,
        };
        search.go(0, 0.0, 0);
        search.best
    }

    fn check_consistent(a: &Assignment, rows: usize, cols: usize) {
        let mut rs: Vec<usize> = a
            .matches
            .iter()
            .map(|m| m.0)
            .chain(a.unmatched_rows.iter().copied())
            .collect();
        let mut cs: Vec<usize> = a
            .matches
            .iter()
            .map(|m| m.1)
            .chain(a.unmatched_cols.iter().copied())
            .collect();
        rs.sort_unstable();
        cs.sort_unstable();
        assert_eq!(rs, (0..rows).collect::<Vec<_>>());
        assert_eq!(cs, (0..cols).collect::<Vec<_>>());
    }

    #[test]
    fn matches_brute_force_on_random_small_matrices() {
        let mut rng = Rng::new(12);
        for trial in 0..3000 {
            let rows = rng.below(6);
            let cols = rng.below(6);
            // Coarse values make ties common, fine ones make them rare: both are tried.
            let coarse = trial % 2 == 0;
            let cost: Vec<f32> = (0..rows * cols)
                .map(|_| {
                    let c = rng.uniform(0.0, 1.0);
                    if coarse { (c * 4.0).floor() / 4.0 } else { c }
                })
                .collect();
            let limit = [0.3, 0.5, 0.8, 1.0, 2.0][rng.below(5)];
            let a = linear_assignment(&cost, rows, cols, limit);
            check_consistent(&a, rows, cols);
            for &(i, j) in &a.matches {
                assert!(cost[i * cols + j] <= limit);
            }
            let got = objective(&cost, rows, cols, limit, &a);
            let want = brute_force(&cost, rows, cols, limit);
            assert!(
                (got - want).abs() < 1e-5,
                "trial {trial}: {got} vs {want} for {cost:?} {rows}x{cols} limit {limit}"
            );
        }
    }

    #[test]
    fn pairs_above_the_limit_stay_unmatched() {
        // Row 0 fits column 1 well; row 1 fits nothing under 0.5.
        let cost = [0.9, 0.1, 0.7, 0.6, 0.95, 0.8];
        let a = linear_assignment(&cost, 2, 3, 0.5);
        assert_eq!(a.matches, vec![(0, 1)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![0, 2]);
    }

    #[test]
    fn the_global_optimum_beats_greedy() {
        // Greedy would take (0,0)=0.1 and then (1,1)=0.9 (total 1.0); the optimum is 0.2+0.3.
        let cost = [0.1, 0.2, 0.3, 0.9];
        let a = linear_assignment(&cost, 2, 2, 1.0);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn infinite_limit_is_a_full_rectangular_assignment() {
        let cost = [5.0, 9.0, 1.0, 7.0, 2.0, 8.0];
        let a = linear_assignment(&cost, 2, 3, f32::INFINITY);
        assert_eq!(a.matches, vec![(0, 2), (1, 1)]);
        assert_eq!(a.unmatched_cols, vec![0]);
        let a = linear_assignment(&[f32::NAN, 0.5, 0.2, f32::NAN], 2, 2, 1.0);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn empty_sides() {
        let a = linear_assignment(&[], 0, 3, 0.8);
        assert_eq!(a.unmatched_cols, vec![0, 1, 2]);
        let a = linear_assignment(&[], 2, 0, 0.8);
        assert_eq!(a.unmatched_rows, vec![0, 1]);
        assert!(a.matches.is_empty());
    }
}
