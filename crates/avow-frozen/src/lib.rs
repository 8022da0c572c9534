//! Matrix products with frozen weights for graphs that candle differentiates.
//!
//! candle's backward pass computes a gradient for both operands of every
//! product and keeps each in its gradient store, whether or not the operand
//! is a variable. For a weight, that gradient is `xᵀ·g`, and because `x`
//! is part of the graph it carries its own graph: when the same weight is
//! used at every step of a recurrence, the store accumulates it as a chain of
//! sums that keeps every step's partial gradient alive until the store is
//! dropped. In a style-search step (an LSTM over 160 frames in the speaker
//! encoder, Kokoro's prosody LSTMs over tokens and frames) that was about
//! 3 GB of weight gradients nobody asked for, and the matrix products to
//! compute them.
//!
//! [`FrozenMatmul`] is `x · W` as one op whose backward pass returns only
//! `g · Wᵀ`. Models keep their plain `matmul` where nothing is being
//! differentiated, or where the weight itself is trained.

#![deny(missing_docs)]

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// `x · W` for `x` `[.., K]` and a frozen `W` `[K, N]`, differentiable in `x`
/// only. Cloning it is cheap (the weight is shared).
#[derive(Debug, Clone)]
pub struct FrozenMatmul {
    weight: Tensor,
}

impl FrozenMatmul {
    /// Wraps `weight` `[K, N]` (shared, not copied, when contiguous).
    pub fn new(weight: &Tensor) -> Result<Self> {
        let (_, _) = weight.dims2()?;
        Ok(Self { weight: weight.detach().contiguous()? })
    }

    /// The weight `[K, N]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// `x · W`. On an input a gradient flows through, one op with the
    /// input-only backward pass; otherwise candle's product.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.track_op() {
            x.contiguous()?.apply_op1(self.clone())
        } else {
            x.broadcast_matmul(&self.weight)
        }
    }
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("frozen-matmul takes a contiguous f32 tensor");
        };
        let x = Tensor::from_slice(&data[start..end], layout.shape(), self.weight.device())?;
        let y = x.broadcast_matmul(&self.weight)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1()?), shape))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        // A transposed view: the product reads it through its strides.
        Ok(Some(grad_res.detach().broadcast_matmul(&self.weight.t()?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_abs(t: &Tensor) -> f32 {
        t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn output_and_input_gradient_equal_candles_product() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (5, 7), &dev).unwrap();
        let op = FrozenMatmul::new(&w).unwrap();
        for shape in [vec![3, 5], vec![2, 3, 5]] {
            let x = Var::randn(0f32, 1.0, shape.as_slice(), &dev).unwrap();
            let ours = op.forward(&x).unwrap();
            let plain = x.broadcast_matmul(&w).unwrap();
            assert!(max_abs(&(&ours - &plain).unwrap()) < 1e-5);
            let probe = Tensor::randn(0f32, 1.0, ours.shape(), &dev).unwrap();
            let g1 = ours.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = plain.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
            let (a, b) = (g1.get(&x).expect("input gradient"), g2.get(&x).unwrap());
            assert!(max_abs(&(a - b).unwrap()) < 1e-5);
        }
    }

    #[test]
    fn the_weight_gets_no_gradient_and_the_store_holds_only_the_inputs() {
        // What the op is for: candle's product stores a weight gradient per use.
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (4, 4), &dev).unwrap();
        let op = FrozenMatmul::new(&w).unwrap();
        let x = Var::randn(0f32, 1.0, (1, 4), &dev).unwrap();
        let (mut ours, mut plain) = (x.as_tensor().clone(), x.as_tensor().clone());
        for _ in 0..10 {
            ours = op.forward(&ours).unwrap().tanh().unwrap();
            plain = plain.matmul(&w).unwrap().tanh().unwrap();
        }
        let g_ours = ours.sum_all().unwrap().backward().unwrap();
        let g_plain = plain.sum_all().unwrap().backward().unwrap();
        assert!(g_plain.get(&w).is_some(), "candle's product stores the weight's gradient");
        assert!(g_ours.get(&w).is_none() && g_ours.get(op.weight()).is_none());
        assert_eq!(g_ours.get_ids().count(), 1, "only the variable's gradient is left");
        let (a, b) = (g_ours.get(&x).unwrap(), g_plain.get(&x).unwrap());
        assert!(max_abs(&(a - b).unwrap()) < 1e-5);
    }

    #[test]
    fn untracked_inputs_take_candles_product() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (3, 2), &dev).unwrap();
        let x = Tensor::randn(0f32, 1.0, (4, 3), &dev).unwrap();
        let y = FrozenMatmul::new(&w).unwrap().forward(&x).unwrap();
        assert!(!y.track_op());
        assert!(max_abs(&(y - x.matmul(&w).unwrap()).unwrap()) < 1e-6);
    }
}
