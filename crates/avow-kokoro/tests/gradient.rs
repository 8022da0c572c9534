//! The model is differentiable with respect to the style vector from end to
//! end (cloning and adaptation optimize through it): the gradient exists, is
//! finite, reaches both halves of the style, and agrees with a finite
//! difference.
//!
//! Needs the converted weights (see `common::weights_path`).

mod common;

use candle_core::{Device, Tensor, Var};
use common::{fixtures, ids, model};

#[test]
fn audio_gradient_with_respect_to_style_matches_a_finite_difference() {
    let Some(model) = model() else { return };
    // The gradient is the f32 model's (training never uses the int8 kernels);
    // the finite difference must evaluate that model too, not the int8 one,
    // whose rounding steps would swamp a 1e-2 difference.
    avow_kokoro::layers::set_int8_kernels(false);
    let case = fixtures().into_iter().min_by_key(|c| c.tokens.len()).unwrap();
    let ids = ids(&case);
    let style = Var::from_tensor(&Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()).unwrap();
    // A smooth scalar of the waveform: energy in a fixed window.
    let loss = |s: &Tensor| -> Tensor {
        let audio = model.render(&ids, s, &case.durations).unwrap();
        let n = audio.dim(1).unwrap();
        audio.narrow(1, n / 4, n / 2).unwrap().sqr().unwrap().mean_all().unwrap()
    };
    let l0 = loss(&style);
    let grads = l0.backward().unwrap();
    let g: Vec<f32> = grads.get(&style).expect("no gradient reached the style").flatten_all().unwrap().to_vec1().unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "non-finite gradient");
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    // Decoder half (timbre) and prosody half (F0 and energy feed the decoder).
    assert!(norm(&g[..128]) > 0.0 && norm(&g[128..]) > 0.0, "gradient misses a style half");

    // Directional derivative along the gradient versus a central difference.
    let dir: Vec<f32> = g.iter().map(|x| x / norm(&g)).collect();
    let eps = 1e-2f32;
    let shifted = |sign: f32| {
        let s: Vec<f32> = case.style.iter().zip(&dir).map(|(s, d)| s + sign * eps * d).collect();
        loss(&Tensor::new(s.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()).to_scalar::<f32>().unwrap()
    };
    let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps);
    let analytic = norm(&g);
    let rel = (numeric - analytic).abs() / analytic;
    eprintln!("loss {:.3e}, |grad| {analytic:.4e}, finite difference {numeric:.4e}, relative error {rel:.3}", l0.to_scalar::<f32>().unwrap());
    assert!(rel < 0.1, "analytic {analytic} vs numeric {numeric}");
}
