//! Converts an ONNX file and prints the resulting tensor names and shapes.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1])?;
    let weights = avow_kokoro::convert::onnx_to_weights(&bytes)?;
    let mut params = 0usize;
    for (name, (shape, values)) in &weights {
        params += values.len();
        println!("{name} {shape:?}");
    }
    eprintln!("{} tensors, {params} parameters", weights.len());
    if let Some(out) = args.get(2) {
        std::fs::write(out, avow_kokoro::convert::serialize(&weights)?)?;
    }
    Ok(())
}
