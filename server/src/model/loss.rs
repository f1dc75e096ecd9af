//! Loss of token sequences under the model: the training objective and, without gradients,
//! the held-out perplexity that `voicetune eval` and `voicetune compare` report. Here, below
//! both the trainer and the bake-off, so that neither service imports the other.

use anyhow::Result;
use candle_core::{Device, Tensor};

use super::llama::{BaseWeight, Llama};
use super::ops::linear_cross_entropy;

/// One training sequence. `mask[i]` says whether token `i` is a target (predicted from the
/// tokens before it); `mask[0]` is never used.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub ids: Vec<u32>,
    pub mask: Vec<bool>,
}

impl Example {
    /// Positions `i` (0-based, in `0..len-1`) whose next token is a target.
    pub fn target_positions(&self) -> Vec<u32> {
        (1..self.ids.len())
            .filter(|&i| self.mask[i])
            .map(|i| (i - 1) as u32)
            .collect()
    }

    pub fn n_targets(&self) -> usize {
        self.mask.iter().skip(1).filter(|&&m| m).count()
    }

    /// The example cut into windows of at most `max_len` tokens, keeping those with a target.
    pub fn windows(&self, max_len: usize) -> Vec<Example> {
        self.ids
            .chunks(max_len.max(2))
            .zip(self.mask.chunks(max_len.max(2)))
            .map(|(i, m)| Example {
                ids: i.to_vec(),
                mask: m.to_vec(),
            })
            .filter(|e| e.ids.len() >= 2 && e.n_targets() > 0)
            .collect()
    }
}

/// Mean negative log-likelihood of `ex`'s target tokens (a scalar tensor, differentiable when
/// `train`), and the number of targets. Logits are computed only at target positions.
pub fn example_loss(model: &Llama, ex: &Example, train: bool) -> Result<(Tensor, usize)> {
    let n = ex.ids.len();
    anyhow::ensure!(n >= 2, "an example needs at least two tokens");
    let pos = ex.target_positions();
    anyhow::ensure!(
        !pos.is_empty(),
        "an example needs at least one target token"
    );
    let targets: Vec<u32> = pos.iter().map(|&p| ex.ids[p as usize + 1]).collect();
    let input = Tensor::new(&ex.ids[..n - 1], &Device::Cpu)?.unsqueeze(0)?;
    let hidden = model.forward_hidden(&input, 0, None, train)?.squeeze(0)?;
    let hidden = if pos.len() == n - 1 {
        hidden
    } else {
        hidden.index_select(&Tensor::new(pos.as_slice(), &Device::Cpu)?, 0)?
    };
    let targets = Tensor::new(targets.as_slice(), &Device::Cpu)?;
    let loss = match &model.output {
        // Chunked over the vocabulary: the [targets, vocab] logits are never kept.
        BaseWeight::Dense(w) => linear_cross_entropy(&hidden, w, &targets)?.mean_all()?,
        BaseWeight::Quant(_) | BaseWeight::Q4(_) => {
            candle_nn::loss::cross_entropy(&model.logits(&hidden)?, &targets)?
        }
    };
    Ok((loss, pos.len()))
}

/// Runs `f` on one of rayon's threads. candle splits its f32 matmuls over rayon's pool; called
/// from a thread outside the pool, each matmul hands its work over and sleeps until it is done
/// (two context switches per matmul, and a step has thousands); from inside, the calling thread
/// does its share and another worker takes the rest.
pub fn on_matmul_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::join(f, || ()).0
}

/// Token-weighted mean NLL over `examples`, without gradients: its `exp` is the perplexity
/// (`voicetune eval` and `voicetune compare`).
pub fn mean_loss(model: &Llama, examples: &[Example]) -> Result<(f64, usize)> {
    let mut sum = 0f64;
    let mut count = 0usize;
    for ex in examples {
        let (loss, n) = on_matmul_pool(|| -> Result<_> {
            let (loss, n) = example_loss(model, ex, false)?;
            Ok((loss.detach().to_scalar::<f32>()? as f64, n))
        })?;
        sum += loss * n as f64;
        count += n;
    }
    anyhow::ensure!(count > 0, "no target tokens to score");
    Ok((sum / count as f64, count))
}
