//! Local LoRA fine-tuning with candle over [`crate::model`].
