//! The Snake activation `y = x + sin²(αx)/α`, with a learned `α` per channel.
//!
//! The iSTFTNet generator applies it 36 times to its longest tensors; with
//! the C library's scalar `sinf` it was a tenth of synthesis time. The
//! AVX-512 path evaluates `sin²` with a polynomial over 16 samples at a time.

/// Beyond this `|αx|` the vector path's argument reduction (three-part π/2)
/// loses accuracy, so such chunks take the scalar path.
const REDUCTION_LIMIT: f32 = 65_536.0;

/// `x`: `[channels, len]` row-major with `alpha.len()` channels. Returns
/// `x + sin²(αx)/α` in the same layout.
///
/// # Panics
/// If `x.len() != alpha.len() · len`: the caller's shape is wrong.
pub fn snake(x: &[f32], alpha: &[f32], len: usize) -> Vec<f32> {
    assert_eq!(x.len(), alpha.len() * len, "snake: input is not channels × len");
    let mut y = vec![0f32; x.len()];
    if len == 0 {
        return y;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        for ((row, out), &a) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).zip(alpha) {
            // SAFETY: AVX-512 F was detected just above.
            unsafe { avx512::snake_row(row, out, a) };
        }
        return y;
    }
    for ((row, out), &a) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).zip(alpha) {
        snake_row_scalar(row, out, a);
    }
    y
}

fn snake_row_scalar(row: &[f32], out: &mut [f32], a: f32) {
    let inv = 1.0 / a;
    for (o, &v) in out.iter_mut().zip(row) {
        let s = (a * v).sin();
        *o = v + s * s * inv;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{snake_row_scalar, REDUCTION_LIMIT};

    /// # Safety
    /// The CPU must support AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn snake_row(row: &[f32], out: &mut [f32], a: f32) {
        assert_eq!(row.len(), out.len());
        let alpha = _mm512_set1_ps(a);
        let inv = _mm512_set1_ps(1.0 / a);
        let limit = _mm512_set1_ps(REDUCTION_LIMIT);
        let n = row.len();
        let mut t = 0;
        while t < n {
            let left = n - t;
            let mask: u16 = if left >= 16 { u16::MAX } else { ((1u32 << left) - 1) as u16 };
            let x = _mm512_maskz_loadu_ps(mask, row.as_ptr().add(t));
            let z = _mm512_mul_ps(alpha, x);
            let far = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(mask, _mm512_abs_ps(z), limit);
            if far != 0 {
                let m = left.min(16);
                snake_row_scalar(&row[t..t + m], &mut out[t..t + m], a);
            } else {
                let y = _mm512_fmadd_ps(sin_squared(z), inv, x);
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(t), mask, y);
            }
            t += 16;
        }
    }

    /// `sin²(z)`: reduce `z = jπ/2 + r` with `|r| ≤ π/4`; then `sin²(z)` is
    /// `sin²(r)` for even `j` and `1 − sin²(r)` for odd `j`, and `sin(r)` is a
    /// degree-7 odd polynomial (Cephes' `sinf` coefficients, ~1 ulp on the range).
    #[target_feature(enable = "avx512f")]
    unsafe fn sin_squared(z: __m512) -> __m512 {
        let j = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
            z,
            _mm512_set1_ps(std::f32::consts::FRAC_2_PI),
        ));
        // π/2 split into three parts so that j·part is exact for |j| < 2^16.
        let r = _mm512_fnmadd_ps(j, _mm512_set1_ps(1.570_312_5), z);
        let r = _mm512_fnmadd_ps(j, _mm512_set1_ps(4.837_513e-4), r);
        let r = _mm512_fnmadd_ps(j, _mm512_set1_ps(7.549_79e-8), r);
        let r2 = _mm512_mul_ps(r, r);
        let p = _mm512_fmadd_ps(_mm512_set1_ps(-1.951_529_6e-4), r2, _mm512_set1_ps(8.332_161e-3));
        let p = _mm512_fmsub_ps(p, r2, _mm512_set1_ps(1.666_665_5e-1));
        let s = _mm512_fmadd_ps(_mm512_mul_ps(p, r2), r, r);
        let s2 = _mm512_mul_ps(s, s);
        let odd = _mm512_test_epi32_mask(_mm512_cvtps_epi32(j), _mm512_set1_epi32(1));
        _mm512_mask_sub_ps(s2, odd, _mm512_set1_ps(1.0), s2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_formula_with_the_c_library_sine() {
        // Channels with small and large α; inputs across many periods, a
        // length that leaves a partial vector, and a few beyond the reduction
        // limit (scalar path).
        let alpha = [0.05f32, 0.7, 1.0, 3.3, 12.0];
        let len = 1003;
        let x: Vec<f32> = (0..alpha.len() * len).map(|i| ((i as f32) * 0.37).sin() * (i % 97) as f32 * 0.9 - 20.0).collect();
        let mut x = x;
        x[17] = 1.0e6;
        x[2 * len + 5] = -3.0e5;
        let y = snake(&x, &alpha, len);
        let mut worst = 0f32;
        for (c, &a) in alpha.iter().enumerate() {
            for t in 0..len {
                let v = x[c * len + t];
                let s = (f64::from(a) * f64::from(v)).sin();
                let want = f64::from(v) + s * s / f64::from(a);
                let got = f64::from(y[c * len + t]);
                // Error relative to the terms' size: x and 1/α.
                let scale = f64::from(v).abs() + 1.0 / f64::from(a);
                worst = worst.max(((got - want).abs() / scale) as f32);
            }
        }
        assert!(worst < 2e-6, "worst relative error {worst}");
    }

    #[test]
    fn nan_stays_nan_and_empty_rows_are_fine() {
        let y = snake(&[f32::NAN, 1.0], &[1.0, 2.0], 1);
        assert!(y[0].is_nan() && (y[1] - (1.0 + (2.0f32).sin().powi(2) / 2.0)).abs() < 1e-6);
        assert!(snake(&[], &[1.0, 2.0], 0).is_empty());
    }
}
