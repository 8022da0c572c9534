//! Development aid: how well the embedder reaches its per-unit target, and
//! how much white noise at 20 dB SNR moves the unit statistics.
use avow_watermark::*;
use rand::{Rng, SeedableRng};
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let snr: f32 = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(20.0);
    let a = avow_audio::read_audio(&path).unwrap();
    let x = avow_audio::resample(&a.to_mono(), a.sample_rate, RATE).unwrap();
    let key = Key::default_public();
    let wm = Watermarker::new(&key, 0xdeadbeef);
    let y = wm.embed(&x).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let ps: f32 = y.iter().map(|v| v * v).sum::<f32>() / y.len() as f32;
    let g = (ps / 10f32.powf(snr / 10.0)).sqrt() * 3f32.sqrt();
    let z: Vec<f32> = y
        .iter()
        .map(|v| v + g * rng.gen_range(-1.0f32..1.0))
        .collect();
    let d = diag_units(&key, 0xdeadbeef, &x, &y);
    let dz = diag_units(&key, 0xdeadbeef, &x, &z);
    let n = d.len() as f32;
    let stat = |v: &[f32]| {
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (
            m,
            (v.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / v.len() as f32).sqrt(),
        )
    };
    let (mh, sh) = stat(&d.iter().map(|v| v.0).collect::<Vec<_>>());
    let (mm, sm) = stat(&d.iter().map(|v| v.1).collect::<Vec<_>>());
    let (ma, sa) = stat(&dz.iter().map(|v| v.1).collect::<Vec<_>>());
    let (mc, sc) = stat(
        &d.iter()
            .zip(&dz)
            .map(|(a, b)| b.1 - a.1)
            .collect::<Vec<_>>(),
    );
    let neg = d.iter().filter(|v| v.1 <= 0.0).count();
    println!("units {n}: host {mh:.3}±{sh:.3} marked {mm:.3}±{sm:.3} (wrong {neg}) noisy {ma:.3}±{sa:.3} change {mc:.3}±{sc:.3}");
    for (name, s) in [("marked", &y), ("noisy", &z)] {
        let det = Detector::new(&key).detect(s, RATE).unwrap();
        println!(
            "{name}: score {:.2} p {:e} crc {} bits-wrong {}",
            det.score,
            det.p_value,
            det.crc_ok,
            (det.raw_bits ^ 0xdeadbeef).count_ones()
        );
    }
}
