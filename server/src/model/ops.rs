//! Custom candle ops for LoRA training.
//!
//! candle's matmul backward computes the gradient of both operands, even when one of them is a
//! frozen base weight that no optimizer will ever read: that doubles the backward work of every
//! projection and keeps a weight-sized gradient alive per layer. [`frozen_linear`] computes
//! `x @ w^T` as a custom op whose backward returns only the gradient of `x`.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

struct FrozenLinear {
    /// `[out, in]`, contiguous f32.
    w: Tensor,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let k = *dims
            .last()
            .expect("frozen-linear input has at least one dim");
        let m = layout.shape().elem_count() / k;
        let (n, kw) = self.w.dims2()?;
        if kw != k {
            bail!("frozen-linear: input width {k} does not match weight {n}x{kw}");
        }
        if !layout.is_contiguous() {
            bail!("frozen-linear: input must be contiguous");
        }
        let x_layout = Layout::contiguous_with_offset((m, k), layout.start_offset());
        let (w_storage, w_layout) = self.w.storage_and_layout();
        let Storage::Cpu(w_cpu) = &*w_storage else {
            bail!("frozen-linear: weight must be on the cpu");
        };
        let wt_layout = w_layout.transpose(0, 1)?;
        let out = storage.matmul(w_cpu, (1, m, n, k), &x_layout, &wt_layout)?;
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("non-empty dims") = n;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.w)?))
    }
}

/// `x @ w^T` where `w` (`[out, in]`) is frozen: gradients flow to `x` only.
pub fn frozen_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear { w: w.clone() })
}
