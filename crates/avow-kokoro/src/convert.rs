//! Importers from published checkpoints to the canonical safetensors layout.
//!
//! The canonical layout uses the PyTorch module names of the original Kokoro
//! model (`bert.*`, `bert_encoder.*`, `text_encoder.*`, `predictor.*`,
//! `decoder.*`), f32 everywhere, weight-norm folded, and LSTM gates in PyTorch
//! order (i, f, g, o).
//!
//! The int8 ONNX export names only about half of its initializers; the rest
//! are anonymous (`onnx::MatMul_6547_quantized`,
//! `/decoder/decoder/decode.0/Mul_output_0_quantized`) and get their module
//! path from the node that consumes them (`/encoder/bert_encoder/MatMul_quant`).

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use crate::onnx::{data_type, GraphProto, ModelProto, NodeProto, TensorProto};

/// Errors converting a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input is not a model this importer understands.
    #[error("cannot convert: {0}")]
    Unsupported(String),
    /// The protobuf could not be decoded.
    #[error("not an ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A tensor the importer needs is absent or malformed.
    #[error("ONNX model is missing or has a malformed `{0}`")]
    Tensor(String),
}

/// A converted tensor: shape and row-major f32 values.
pub type Weights = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Converts the bytes of `kokoro-v1.0.int8.onnx` into canonical safetensors bytes.
pub fn onnx_to_safetensors(onnx: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let weights = onnx_to_weights(onnx)?;
    serialize(&weights)
}

/// Serializes weights to safetensors with sorted names (deterministic bytes).
pub fn serialize(weights: &Weights) -> Result<Vec<u8>, ConvertError> {
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(weights.len());
    for (name, (shape, values)) in weights {
        bytes.push((name.clone(), shape.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect()));
    }
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| ConvertError::Tensor(format!("{n}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| ConvertError::Unsupported(e.to_string()))
}

/// Decodes the int8 ONNX export and returns dequantized weights under their
/// canonical names.
pub fn onnx_to_weights(onnx: &[u8]) -> Result<Weights, ConvertError> {
    let model = ModelProto::decode(onnx)?;
    let graph = model.graph.ok_or_else(|| ConvertError::Unsupported("model has no graph".into()))?;
    Importer::new(&graph).run()
}

struct Importer<'a> {
    inits: HashMap<&'a str, &'a TensorProto>,
    consumers: HashMap<&'a str, Vec<(&'a NodeProto, usize)>>,
    nodes: &'a [NodeProto],
    out: Weights,
}

/// How a quantized tensor's scale vector lines up with its dimensions.
#[derive(Clone, Copy)]
enum ScaleAxis {
    First,
    Last,
}

impl<'a> Importer<'a> {
    fn new(graph: &'a GraphProto) -> Self {
        let inits = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect::<HashMap<_, _>>();
        let mut consumers: HashMap<&str, Vec<(&NodeProto, usize)>> = HashMap::new();
        for node in &graph.node {
            for (i, input) in node.input.iter().enumerate() {
                consumers.entry(input.as_str()).or_default().push((node, i));
            }
        }
        Self { inits, consumers, nodes: &graph.node, out: Weights::new() }
    }

    fn run(mut self) -> Result<Weights, ConvertError> {
        let mut names: Vec<&str> = self.inits.keys().copied().collect();
        names.sort();
        for name in names {
            let tensor = self.inits[name];
            if let Some(base) = name.strip_suffix("_quantized") {
                self.quantized(base, tensor)?;
            } else if tensor.data_type == data_type::FLOAT && !name.ends_with("_scale") {
                self.float(name, tensor)?;
            }
        }
        for node in self.nodes.iter().filter(|n| n.op_type == "DynamicQuantizeLSTM") {
            self.lstm(node)?;
        }
        if self.out.len() < 400 {
            return Err(ConvertError::Unsupported(format!(
                "found only {} weight tensors; this does not look like kokoro-v1.0.int8.onnx",
                self.out.len()
            )));
        }
        Ok(self.out)
    }

    fn init(&self, name: &str) -> Result<&'a TensorProto, ConvertError> {
        self.inits.get(name).copied().ok_or_else(|| ConvertError::Tensor(name.to_string()))
    }

    fn first_consumer(&self, name: &str) -> Option<(&'a NodeProto, usize)> {
        self.consumers.get(name).and_then(|c| c.first().copied())
    }

    fn insert(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) -> Result<(), ConvertError> {
        if self.out.insert(name.clone(), (shape, values)).is_some() {
            return Err(ConvertError::Unsupported(format!("two initializers map to `{name}`")));
        }
        Ok(())
    }

    /// Plain f32 initializers: named parameters, and anonymous weights that
    /// the exporter folded (weight-norm) into constants feeding a node.
    fn float(&mut self, name: &str, tensor: &TensorProto) -> Result<(), ConvertError> {
        let shape = dims(tensor);
        if let Some(canonical) = canonical_from_initializer(name) {
            return self.insert(canonical, shape, floats(tensor)?);
        }
        let Some((node, slot)) = self.first_consumer(name) else { return Ok(()) };
        match (node.op_type.as_str(), slot) {
            ("Conv" | "ConvTranspose", 1) => self.insert(module_path(&node.name)? + ".weight", shape, floats(tensor)?),
            ("MatMul", 1) => {
                let (t_shape, t) = transpose2(&shape, &floats(tensor)?)?;
                self.insert(module_path(&node.name)? + ".weight", t_shape, t)
            }
            // Constants of the graph (windows, reciprocals of snake alphas,
            // layer-norm unit weights, ...) are derived in code, not weights.
            _ => Ok(()),
        }
    }

    fn quantized(&mut self, base: &str, tensor: &TensorProto) -> Result<(), ConvertError> {
        let name = format!("{base}_quantized");
        let Some((node, slot)) = self.first_consumer(&name) else { return Ok(()) };
        let scale = self.init(&format!("{base}_scale"));
        match (node.op_type.as_str(), slot) {
            ("MatMulInteger", 1) => {
                let zp = self.init(&node.input[3])?;
                let values = dequantize(tensor, scale?, zp, ScaleAxis::Last)?;
                let (shape, values) = transpose2(&dims(tensor), &values)?;
                let canonical = canonical_from_initializer(base).map(Ok).unwrap_or_else(|| {
                    module_path(&node.name).map(|p| p + ".weight")
                })?;
                self.insert(canonical, shape, values)
            }
            ("ConvInteger", 1) => {
                let zp = self.init(&node.input[3])?;
                let values = dequantize(tensor, scale?, zp, ScaleAxis::First)?;
                let canonical = canonical_from_initializer(base)
                    .map(Ok)
                    .unwrap_or_else(|| module_path(&node.name).map(|p| p + ".weight"))?;
                self.insert(canonical, dims(tensor), values)
            }
            ("Gather", 0) => {
                // Embedding tables: the gathered rows are dequantized by the
                // next node, which names the scale and zero point.
                let gathered = node.output.first().ok_or_else(|| ConvertError::Tensor(name.clone()))?;
                let (deq, _) = self
                    .first_consumer(gathered)
                    .filter(|(n, _)| n.op_type == "DequantizeLinear")
                    .ok_or_else(|| ConvertError::Tensor(format!("dequantization of {name}")))?;
                let scale = self.init(&deq.input[1])?;
                let zp = self.init(&deq.input[2])?;
                let values = dequantize(tensor, scale, zp, ScaleAxis::First)?;
                let canonical =
                    canonical_from_initializer(base).ok_or_else(|| ConvertError::Tensor(name.clone()))?;
                self.insert(canonical, dims(tensor), values)
            }
            ("DynamicQuantizeLSTM", _) => Ok(()),
            (op, _) => Err(ConvertError::Unsupported(format!("quantized `{name}` feeds an unexpected {op}"))),
        }
    }

    /// ONNX LSTM: W `[dirs, in, 4H]`, R `[dirs, H, 4H]` (transposed by the
    /// quantizer), B `[dirs, 8H]`, gates i, o, f, c. PyTorch: `weight_ih_l0`
    /// `[4H, in]`, gates i, f, g, o, separate input and hidden biases.
    fn lstm(&mut self, node: &NodeProto) -> Result<(), ConvertError> {
        let path = module_path(&node.name)?;
        let input = |i: usize| {
            node.input.get(i).filter(|s| !s.is_empty()).ok_or_else(|| ConvertError::Tensor(format!("{path} input {i}")))
        };
        let w_t = self.init(input(1)?)?;
        let r_t = self.init(input(2)?)?;
        let w = dequantize(w_t, self.init(input(8)?)?, self.init(input(9)?)?, ScaleAxis::First)?;
        let r = dequantize(r_t, self.init(input(2 + 8)?)?, self.init(input(11)?)?, ScaleAxis::First)?;
        let b = floats(self.init(input(3)?)?)?;
        let (wd, rd) = (dims(w_t), dims(r_t));
        if wd.len() != 3 || rd.len() != 3 || wd[0] != 2 || wd[2] % 4 != 0 {
            return Err(ConvertError::Tensor(format!("{path} weights {wd:?}")));
        }
        let (in_dim, gates) = (wd[1], wd[2]);
        let hidden = gates / 4;
        if rd != [2, hidden, gates] || b.len() != 2 * 2 * gates {
            return Err(ConvertError::Tensor(format!("{path} recurrent weights {rd:?}")));
        }
        // PyTorch gate k takes ONNX gate ONNX_GATE[k].
        const ONNX_GATE: [usize; 4] = [0, 2, 3, 1];
        let reorder_t = |m: &[f32], rows: usize| {
            // m is [rows, 4H] for one direction; output [4H, rows].
            let mut out = vec![0f32; gates * rows];
            for (k, &g) in ONNX_GATE.iter().enumerate() {
                for h in 0..hidden {
                    for r in 0..rows {
                        out[(k * hidden + h) * rows + r] = m[r * gates + g * hidden + h];
                    }
                }
            }
            out
        };
        let reorder_bias = |v: &[f32]| {
            let mut out = vec![0f32; gates];
            for (k, &g) in ONNX_GATE.iter().enumerate() {
                out[k * hidden..(k + 1) * hidden].copy_from_slice(&v[g * hidden..(g + 1) * hidden]);
            }
            out
        };
        for d in 0..2 {
            let suffix = if d == 0 { "" } else { "_reverse" };
            let wm = &w[d * in_dim * gates..(d + 1) * in_dim * gates];
            let rm = &r[d * hidden * gates..(d + 1) * hidden * gates];
            let bd = &b[d * 2 * gates..(d + 1) * 2 * gates];
            self.insert(format!("{path}.weight_ih_l0{suffix}"), vec![gates, in_dim], reorder_t(wm, in_dim))?;
            self.insert(format!("{path}.weight_hh_l0{suffix}"), vec![gates, hidden], reorder_t(rm, hidden))?;
            self.insert(format!("{path}.bias_ih_l0{suffix}"), vec![gates], reorder_bias(&bd[..gates]))?;
            self.insert(format!("{path}.bias_hh_l0{suffix}"), vec![gates], reorder_bias(&bd[gates..]))?;
        }
        Ok(())
    }
}

/// `encoder.predictor.F0.0.conv1.bias` → `predictor.F0.0.conv1.bias`;
/// `decoder.decoder.encode.conv1.bias` → `decoder.encode.conv1.bias`.
fn canonical_from_initializer(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("encoder.") {
        Some(rest.to_string())
    } else {
        name.strip_prefix("decoder.decoder.").map(|rest| format!("decoder.{rest}"))
    }
}

/// Module path of the layer a node belongs to, from the exporter's node name:
/// `/encoder/text_encoder/cnn.0/cnn.0.0/Conv_quant` → `text_encoder.cnn.0.0`.
/// The exporter flattened the predictor's sub-modules into `/encoder/F0.1/...`,
/// so those get their `predictor.` prefix back.
fn module_path(node_name: &str) -> Result<String, ConvertError> {
    let parts: Vec<&str> = node_name.split('/').filter(|p| !p.is_empty()).collect();
    let bad = || ConvertError::Unsupported(format!("cannot place node `{node_name}`"));
    let (prefix, rest): (Option<&str>, &[&str]) = match parts.as_slice() {
        ["encoder", rest @ .., _op] => {
            let first = rest.first().ok_or_else(bad)?;
            let predictor_child = first.starts_with("F0.")
                || first.starts_with("N.")
                || matches!(*first, "F0_proj" | "N_proj" | "shared");
            (predictor_child.then_some("predictor"), rest)
        }
        ["decoder", "decoder", rest @ .., _op] => (Some("decoder"), rest),
        _ => return Err(bad()),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut out: Vec<&str> = prefix.into_iter().collect();
    for (i, part) in rest.iter().enumerate() {
        // `cnn.0/cnn.0.0`: the exporter repeats a Sequential's name in its child.
        if rest.get(i + 1).is_some_and(|next| next.starts_with(&format!("{part}."))) {
            continue;
        }
        out.push(part);
    }
    Ok(out.join("."))
}

fn dims(t: &TensorProto) -> Vec<usize> {
    t.dims.iter().map(|&d| d.max(0) as usize).collect()
}

fn floats(t: &TensorProto) -> Result<Vec<f32>, ConvertError> {
    if t.data_type != data_type::FLOAT {
        return Err(ConvertError::Tensor(format!("{} (expected f32)", t.name)));
    }
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        t.float_data.clone()
    };
    check_len(t, values)
}

fn ints(t: &TensorProto) -> Result<Vec<f32>, ConvertError> {
    let values: Vec<f32> = match (t.data_type, t.raw_data.is_empty()) {
        (data_type::UINT8, false) => t.raw_data.iter().map(|&b| b as f32).collect(),
        (data_type::INT8, false) => t.raw_data.iter().map(|&b| b as i8 as f32).collect(),
        (data_type::UINT8 | data_type::INT8, true) => t.int32_data.iter().map(|&v| v as f32).collect(),
        _ => return Err(ConvertError::Tensor(format!("{} (expected int8/uint8)", t.name))),
    };
    check_len(t, values)
}

fn check_len(t: &TensorProto, values: Vec<f32>) -> Result<Vec<f32>, ConvertError> {
    let expected: usize = dims(t).iter().product();
    if values.len() != expected {
        return Err(ConvertError::Tensor(format!("{} has {} values for shape {:?}", t.name, values.len(), t.dims)));
    }
    Ok(values)
}

/// value = (q − zero_point) × scale, per tensor or per channel along `axis`.
fn dequantize(q: &TensorProto, scale: &TensorProto, zp: &TensorProto, axis: ScaleAxis) -> Result<Vec<f32>, ConvertError> {
    let values = ints(q)?;
    let scale = floats(scale)?;
    let zp = ints(zp)?;
    if scale.len() != zp.len() || scale.is_empty() {
        return Err(ConvertError::Tensor(format!("{} scale/zero point", q.name)));
    }
    if scale.len() == 1 {
        return Ok(values.iter().map(|&v| (v - zp[0]) * scale[0]).collect());
    }
    let shape = dims(q);
    let channels = scale.len();
    let (outer, inner) = match axis {
        ScaleAxis::First if shape.first() == Some(&channels) => (1, values.len() / channels),
        ScaleAxis::Last if shape.last() == Some(&channels) => (values.len() / channels, 1),
        _ => return Err(ConvertError::Tensor(format!("{} scale of {channels} for shape {shape:?}", q.name))),
    };
    let mut out = values;
    for o in 0..outer {
        for c in 0..channels {
            for i in 0..inner {
                let idx = (o * channels + c) * inner + i;
                out[idx] = (out[idx] - zp[c]) * scale[c];
            }
        }
    }
    Ok(out)
}

fn transpose2(shape: &[usize], values: &[f32]) -> Result<(Vec<usize>, Vec<f32>), ConvertError> {
    let [rows, cols] = *shape else {
        return Err(ConvertError::Tensor(format!("matrix of shape {shape:?}")));
    };
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    Ok((vec![cols, rows], out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_follow_pytorch_names() {
        let cases = [
            ("/encoder/text_encoder/cnn.0/cnn.0.0/Conv_quant", "text_encoder.cnn.0.0"),
            ("/encoder/F0.1/conv1x1/Conv_quant", "predictor.F0.1.conv1x1"),
            ("/encoder/shared/LSTM_quant", "predictor.shared"),
            ("/encoder/predictor/text_encoder/lstms.0/LSTM_quant", "predictor.text_encoder.lstms.0"),
            ("/decoder/decoder/asr_res/asr_res.0/Conv_quant", "decoder.asr_res.0"),
            ("/decoder/decoder/generator/ups.1/ConvTranspose", "decoder.generator.ups.1"),
            ("/encoder/bert_encoder/MatMul_quant", "bert_encoder"),
        ];
        for (node, path) in cases {
            assert_eq!(module_path(node).unwrap(), path, "{node}");
        }
        assert!(module_path("/other/x/Conv").is_err());
        assert!(module_path("/encoder/Conv").is_err());
    }

    #[test]
    fn per_channel_dequantization_uses_the_right_axis() {
        let q = TensorProto { dims: vec![2, 3], data_type: data_type::UINT8, raw_data: vec![1, 2, 3, 4, 5, 6], ..Default::default() };
        let scale = TensorProto { dims: vec![3], data_type: data_type::FLOAT, float_data: vec![1.0, 10.0, 100.0], ..Default::default() };
        let zp = TensorProto { dims: vec![3], data_type: data_type::UINT8, raw_data: vec![1, 1, 1], ..Default::default() };
        let v = dequantize(&q, &scale, &zp, ScaleAxis::Last).unwrap();
        assert_eq!(v, vec![0.0, 10.0, 200.0, 3.0, 40.0, 500.0]);
        assert!(dequantize(&q, &scale, &zp, ScaleAxis::First).is_err());
    }

    #[test]
    fn rejects_non_onnx_bytes() {
        assert!(onnx_to_safetensors(b"\xff\xff\xff not a model").is_err());
        // A valid but empty protobuf is a model without a graph.
        assert!(matches!(onnx_to_safetensors(&[]), Err(ConvertError::Unsupported(_))));
    }
}
