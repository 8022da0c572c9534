//! Micro-benchmark on the generator's convolution shapes: candle conv1d
//! (im2col) vs per-tap matmul accumulation (f32) vs the int8 kernel
//! (`avow_kernels::Int8Conv1d`, AVX-512 VNNI where available).
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p avow-kokoro --example conv_bench`
use candle_core::{Device, Tensor};
use std::time::Instant;
fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    for &(c, l, k, d) in &[(128usize, 22681usize, 11usize, 5usize), (128, 22681, 3, 1), (256, 3781, 7, 3), (1024, 190, 3, 1)] {
        let x = Tensor::randn(0f32, 1.0, (1, c, l), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (c, c, k), &dev)?;
        let p = d * (k - 1) / 2;
        let taps: Vec<Tensor> = (0..k).map(|i| w.narrow(2, i, 1).unwrap().squeeze(2).unwrap().contiguous().unwrap()).collect();
        let t = Instant::now();
        let mut y1 = x.conv1d(&w, p, 1, d, 1)?;
        for _ in 0..4 { y1 = x.conv1d(&w, p, 1, d, 1)?; }
        let a = t.elapsed().as_secs_f64() / 5.0;
        let t = Instant::now();
        let mut y2 = None;
        for _ in 0..5 {
            let xp = x.pad_with_zeros(2, p, p)?.squeeze(0)?;
            let mut acc: Option<Tensor> = None;
            for (i, wk) in taps.iter().enumerate() {
                let y = wk.matmul(&xp.narrow(1, i * d, l)?)?;
                acc = Some(match acc { None => y, Some(a) => (a + y)? });
            }
            y2 = acc;
        }
        let b = t.elapsed().as_secs_f64() / 5.0;
        let diff = (y1.squeeze(0)? - y2.unwrap())?.abs()?.max_all()?.to_scalar::<f32>()?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let q = avow_kernels::Int8Conv1d::new(&w.flatten_all()?.to_vec1::<f32>()?, (c, c, k), None, p, d)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let t = Instant::now();
        let mut y3 = Vec::new();
        for _ in 0..5 {
            y3 = q.forward(&xs, l).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        }
        let i8 = t.elapsed().as_secs_f64() / 5.0;
        let y1: Vec<f32> = y1.flatten_all()?.to_vec1()?;
        let err = y1.iter().zip(&y3).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
        let norm = y1.iter().map(|a| a * a).sum::<f32>().sqrt();
        println!(
            "c{c} l{l} k{k} d{d}: im2col {:.1} ms, taps {:.1} ms (max diff {diff:.2e}), int8 {:.1} ms (relative error {:.2e}, VNNI {})",
            a * 1e3,
            b * 1e3,
            i8 * 1e3,
            err / norm,
            avow_kernels::vnni_available()
        );
    }
    Ok(())
}
