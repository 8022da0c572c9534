use std::time::Instant;
use candle_core::{Device, Tensor, Var};
fn main() {
    let home = std::env::var("HOME").unwrap();
    let model = avow_kokoro::KModel::from_file(std::path::Path::new(&format!("{home}/.cache/avow/kokoro-82m-v1.0.safetensors"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("crates/avow-kokoro/tests/fixtures/sentence.json").unwrap()).unwrap();
    let toks: Vec<u32> = v["tokens"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
    let style: Vec<f32> = v["style"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    let mut ids = vec![0u32]; ids.extend(&toks); ids.push(0);
    let ids = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let s = Var::from_tensor(&Tensor::new(style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()).unwrap();
    let d = model.predict_durations(&ids, &s, 1.0).unwrap();
    let frames: u32 = d.iter().sum();
    println!("audio {:.2} s", frames as f32 * 600.0 / 24000.0);
    for _ in 0..2 {
        let t = Instant::now();
        let a = model.render(&ids, &s, &d).unwrap();
        let t1 = t.elapsed();
        let l = a.sqr().unwrap().mean_all().unwrap();
        let g = l.backward().unwrap();
        let _ = g.get(&s).unwrap();
        println!("forward {:?} backward {:?}", t1, t.elapsed() - t1);
    }
}
