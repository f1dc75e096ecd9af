//! The local model: GGUF loading, tokenizer from GGUF metadata, our llama forward with LoRA.
