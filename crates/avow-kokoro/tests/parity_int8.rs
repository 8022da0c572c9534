//! How much of the port's remaining difference from onnxruntime is the
//! reference's int8 activation rounding: with that rounding emulated
//! (`set_int8_activation_emulation`), the audio must come closer to the
//! reference (a broken emulation moves it away). Measured: the log-mel gap
//! shrinks by only ~3-4% and the duration gap moves either way by a few
//! thousandths of a frame, so most of the remaining audio difference is not
//! activation rounding (see BENCHMARKS.md: phases of near-silent source
//! bins). Its own test binary because the switches are process-wide.
//!
//! The int8 kernels (`set_int8_kernels`, on by default where the CPU has
//! AVX-512 VNNI) compute what the emulation computes, with per-channel
//! rather than per-tensor weight scales: they must be as close to the
//! reference as f32 is.

mod common;

use candle_core::{Device, Tensor};
use common::{fixtures, ids, log_mel_distance, model};

#[test]
fn emulating_int8_activations_moves_the_port_toward_the_reference() {
    let Some(model) = model() else { return };
    for case in fixtures() {
        let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let render = || -> Vec<f32> {
            model.render(&ids(&case), &style, &case.durations).unwrap().squeeze(0).unwrap().to_vec1().unwrap()
        };
        avow_kokoro::layers::set_int8_kernels(false);
        avow_kokoro::layers::set_int8_activation_emulation(false);
        let f32_dist = log_mel_distance(&render(), &case.audio);
        avow_kokoro::layers::set_int8_activation_emulation(true);
        let int8_dist = log_mel_distance(&render(), &case.audio);
        let duration_gap = || -> f32 {
            let raw = model.raw_durations(&ids(&case), &style).unwrap();
            raw.iter().map(|d| d / case.speed).zip(&case.raw_durations).map(|(a, b)| (a - b).abs()).sum::<f32>() / raw.len() as f32
        };
        let int8_durations = duration_gap();
        avow_kokoro::layers::set_int8_activation_emulation(false);
        let f32_durations = duration_gap();
        eprintln!(
            "{}: mean |duration diff| f32 {f32_durations:.4} → int8-emulated {int8_durations:.4} frames; \
             log-mel L1 f32 {f32_dist:.3} → int8-emulated {int8_dist:.3}",
            case.name
        );
        assert!(int8_dist < f32_dist, "{}: emulation moved the audio away from the reference", case.name);
        avow_kokoro::layers::set_int8_kernels(true);
        if avow_kokoro::layers::int8_kernels_active() {
            let kernel_dist = log_mel_distance(&render(), &case.audio);
            eprintln!("{}: log-mel L1 with the int8 kernels {kernel_dist:.3}", case.name);
            // A broken kernel (wrong tap, channel or scale) lands near the
            // noise figure (4.6-5.0); int8 rounding moves it by hundredths.
            assert!(kernel_dist < f32_dist + 0.01, "{}: int8 kernels {kernel_dist:.3} vs f32 {f32_dist:.3}", case.name);
        }
    }
}
