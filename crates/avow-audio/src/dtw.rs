//! Dynamic time warping: the monotonic alignment of two frame sequences
//! that minimises the summed frame distance.
//!
//! Used to compare two renditions of the same sentence (a clone's and the
//! real speaker's) frame by frame, and to map phoneme boundaries from a
//! synthesis onto a recording of the same text.

/// One aligned pair: frame `i` of the first sequence with frame `j` of the
/// second.
pub type Step = (usize, usize);

/// The lowest-cost monotonic path from `(0, 0)` to `(n - 1, m - 1)` through
/// an `n × m` grid of local costs given by `cost(i, j)`, with the three
/// usual moves (advance either sequence or both). Returns the path in order
/// and its total cost; an empty path when either sequence is empty.
///
/// Memory is `n × m` bytes for the back-pointers plus two cost rows, so a
/// 30 s pair at 100 frames/s (9 M cells) stays small.
pub fn dtw(n: usize, m: usize, mut cost: impl FnMut(usize, usize) -> f32) -> (Vec<Step>, f64) {
    if n == 0 || m == 0 {
        return (Vec::new(), 0.0);
    }
    // Back-pointers: 0 diagonal, 1 from (i-1, j), 2 from (i, j-1).
    let mut back = vec![0u8; n * m];
    let mut prev = vec![f64::INFINITY; m];
    let mut row = vec![f64::INFINITY; m];
    for i in 0..n {
        for j in 0..m {
            let c = f64::from(cost(i, j));
            if i == 0 && j == 0 {
                row[0] = c;
                continue;
            }
            let diag = if i > 0 && j > 0 { prev[j - 1] } else { f64::INFINITY };
            let up = if i > 0 { prev[j] } else { f64::INFINITY };
            let left = if j > 0 { row[j - 1] } else { f64::INFINITY };
            let (best, from) = if diag <= up && diag <= left {
                (diag, 0)
            } else if up <= left {
                (up, 1)
            } else {
                (left, 2)
            };
            row[j] = best + c;
            back[i * m + j] = from;
        }
        std::mem::swap(&mut prev, &mut row);
    }
    let total = prev[m - 1];
    let mut path = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n - 1, m - 1);
    loop {
        path.push((i, j));
        if i == 0 && j == 0 {
            break;
        }
        match back[i * m + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    (path, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sequences_align_on_the_diagonal_at_zero_cost() {
        let a = [1.0f32, 5.0, 2.0, 8.0];
        let (path, total) = dtw(4, 4, |i, j| (a[i] - a[j]).abs());
        assert_eq!(path, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
        assert_eq!(total, 0.0);
    }

    #[test]
    fn a_stretched_copy_maps_each_repeated_frame_to_its_source() {
        let a = [0.0f32, 10.0, 20.0];
        let b = [0.0f32, 0.0, 10.0, 10.0, 10.0, 20.0];
        let (path, total) = dtw(3, 6, |i, j| (a[i] - b[j]).abs());
        assert_eq!(total, 0.0);
        assert_eq!(path, vec![(0, 0), (0, 1), (1, 2), (1, 3), (1, 4), (2, 5)]);
    }

    #[test]
    fn the_path_is_monotonic_and_spans_both_ends() {
        let (path, _) = dtw(7, 3, |i, j| ((i * 3 + j * 7) % 5) as f32);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(6, 2)));
        for w in path.windows(2) {
            let (di, dj) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
            assert!(di <= 1 && dj <= 1 && di + dj >= 1, "bad step {w:?}");
        }
    }

    #[test]
    fn empty_inputs_give_an_empty_path() {
        assert!(dtw(0, 5, |_, _| 0.0).0.is_empty());
        assert!(dtw(5, 0, |_, _| 0.0).0.is_empty());
    }
}
