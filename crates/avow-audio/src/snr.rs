//! Signal-to-noise ratios of a processed signal against its reference, for
//! judging how much a process (a watermark, a codec) changed the audio.

/// Segmental SNR in dB: the mean over 20 ms frames of each frame's
/// `10·log10(reference energy / difference energy)`, over the frames
/// within 40 dB of the loudest (pauses would otherwise dominate), each
/// clamped to [−10, 60] dB so that one silent or one identical frame cannot
/// swing the mean. The wide upper clamp (the classic definition stops at
/// 35 dB) keeps the measure able to tell marks quieter than 35 dB apart.
///
/// `reference` and `processed` are compared sample by sample over their
/// common length. Returns `None` when no frame qualifies (shorter than one
/// frame, or silent).
pub fn segmental_snr(reference: &[f32], processed: &[f32], rate: u32) -> Option<f64> {
    let len = (rate as usize / 50).max(1);
    let frames: Vec<(f64, f64)> = reference
        .chunks_exact(len)
        .zip(processed.chunks_exact(len))
        .map(|(a, b)| {
            let s: f64 = a.iter().map(|v| f64::from(*v).powi(2)).sum();
            let n: f64 = a.iter().zip(b).map(|(p, q)| f64::from(p - q).powi(2)).sum();
            (s, n)
        })
        .collect();
    let peak = frames.iter().map(|f| f.0).fold(0.0, f64::max);
    if peak <= 0.0 {
        return None;
    }
    let v: Vec<f64> = frames
        .iter()
        .filter(|(s, _)| *s > peak * 1e-4)
        .map(|(s, n)| (10.0 * (s / n.max(1e-30)).log10()).clamp(-10.0, 60.0))
        .collect();
    Some(v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_frame_counts_alike_whatever_its_level() {
        // Two frames, one 20 dB quieter, each with a difference 30 dB below
        // itself: 30 dB, although the loud frame holds 99 % of the energy.
        let rate = 1000; // 20-sample frames
        let mut x = vec![1.0f32; 20];
        x.extend(vec![0.1f32; 20]);
        let y: Vec<f32> = x.iter().map(|v| v * (1.0 + 10f32.powf(-1.5))).collect();
        let s = segmental_snr(&x, &y, rate).unwrap();
        assert!((s - 30.0).abs() < 0.01, "{s}");
    }

    #[test]
    fn pauses_are_left_out_and_extremes_clamped() {
        let rate = 1000;
        // A loud frame with a difference 10 dB below it, and a frame 50 dB
        // down (a pause) destroyed entirely: the pause does not count.
        let mut x = vec![1.0f32; 20];
        x.extend(vec![0.003f32; 20]);
        let mut y: Vec<f32> = x.iter().map(|v| v * (1.0 + 10f32.powf(-0.5))).collect();
        for v in &mut y[20..] {
            *v = -1.0;
        }
        assert!((segmental_snr(&x, &y, rate).unwrap() - 10.0).abs() < 0.01);
        // An unchanged frame counts as 60 dB, not infinity.
        let s = segmental_snr(&x[..20], &x[..20], rate).unwrap();
        assert_eq!(s, 60.0);
        assert_eq!(segmental_snr(&[0.0; 40], &[0.0; 40], rate), None);
        assert_eq!(segmental_snr(&[1.0; 10], &[1.0; 10], rate), None);
    }
}
