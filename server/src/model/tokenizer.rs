//! The model's tokenizer, rebuilt from the GGUF metadata, and the ChatML chat template.
//!
//! GGUF stores a GPT-2 style byte-level BPE as `tokenizer.ggml.tokens` (vocab, in id order),
//! `tokenizer.ggml.merges` and `tokenizer.ggml.token_type` (3 = control token). For the
//! `smollm` pre-tokenizer, Hugging Face's conversion splits digits one by one before the
//! byte-level split; we build the same pipeline with the `tokenizers` crate.

use anyhow::{anyhow, Context, Result};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::gguf::GgufFile;

/// A chat message (`role` is system, user or assistant).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// One JSONL training line in any of the OpenAI formats (chat, prompt/completion, text), as the
/// trainer and the bake-off read it.
#[derive(serde::Deserialize)]
pub struct TrainingLine {
    pub messages: Option<Vec<Message>>,
    pub prompt: Option<String>,
    pub completion: Option<String>,
    pub text: Option<String>,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

pub struct GgufTokenizer {
    pub inner: Tokenizer,
    pub eos_id: u32,
    pub bos_id: Option<u32>,
    /// `<|im_start|>` and `<|im_end|>` when the vocabulary has them (ChatML).
    pub im_start: Option<u32>,
    pub im_end: Option<u32>,
}

const TOKEN_TYPE_CONTROL: i32 = 3;

impl GgufTokenizer {
    pub fn from_gguf(gguf: &GgufFile) -> Result<GgufTokenizer> {
        let path = gguf.path.display();
        let model = gguf.metadata("tokenizer.ggml.model")?.to_string()?;
        if model != "gpt2" {
            anyhow::bail!(
                "{path}: tokenizer model `{model}` is not supported (byte-level BPE `gpt2` only)"
            );
        }
        let tokens: Vec<String> = gguf
            .metadata("tokenizer.ggml.tokens")?
            .to_vec()?
            .iter()
            .map(|v| v.to_string().cloned())
            .collect::<candle_core::Result<_>>()?;
        let merges: Vec<(String, String)> = gguf
            .metadata("tokenizer.ggml.merges")?
            .to_vec()?
            .iter()
            .map(|v| {
                let m = v.to_string()?;
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| candle_core::Error::Msg(format!("bad merge `{m}`")))
            })
            .collect::<candle_core::Result<_>>()?;
        let types: Vec<i32> = match gguf.metadata("tokenizer.ggml.token_type") {
            Ok(v) => v
                .to_vec()?
                .iter()
                .map(|t| t.to_i32())
                .collect::<candle_core::Result<_>>()?,
            Err(_) => vec![1; tokens.len()],
        };
        let mut vocab = Vocab::default();
        for (id, tok) in tokens.iter().enumerate() {
            vocab.insert(tok.clone(), id as u32);
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| anyhow!("{path}: invalid BPE vocabulary: {e}"))?;
        let mut tk = Tokenizer::new(bpe);
        let pre = gguf
            .metadata("tokenizer.ggml.pre")
            .ok()
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        let byte_level = ByteLevel::new(false, true, true);
        if pre == "smollm" || pre == "starcoder" || pre == "refact" {
            tk.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level.into(),
            ])));
        } else {
            tk.with_pre_tokenizer(Some(byte_level));
        }
        tk.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == TOKEN_TYPE_CONTROL)
            .map(|(tok, _)| AddedToken::from(tok.clone(), true))
            .collect();
        tk.add_special_tokens(specials)
            .map_err(|e| anyhow!("{path}: invalid special tokens: {e}"))?;
        let id_of = |key: &str| gguf.metadata(key).ok().and_then(|v| v.to_u32().ok());
        let eos_id = id_of("tokenizer.ggml.eos_token_id")
            .with_context(|| format!("{path}: GGUF metadata has no eos token id"))?;
        Ok(GgufTokenizer {
            im_start: tk.token_to_id("<|im_start|>"),
            im_end: tk.token_to_id("<|im_end|>"),
            bos_id: id_of("tokenizer.ggml.bos_token_id"),
            eos_id,
            inner: tk,
        })
    }

    /// Token ids of `text`; special tokens written in the text (`<|im_start|>`) are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| anyhow!("tokenizer: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens included when `keep_special`.
    pub fn decode(&self, ids: &[u32], keep_special: bool) -> Result<String> {
        self.inner
            .decode(ids, !keep_special)
            .map_err(|e| anyhow!("tokenizer: {e}"))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Ids that end a completion: eos and `<|im_end|>`.
    pub fn stop_ids(&self) -> Vec<u32> {
        let mut ids = vec![self.eos_id];
        ids.extend(self.im_end.filter(|&i| i != self.eos_id));
        ids
    }

    /// The ChatML text of `messages`; with `add_generation_prompt` it ends with an open
    /// assistant turn.
    pub fn chat_prompt(messages: &[Message], add_generation_prompt: bool) -> String {
        let mut s = String::new();
        for m in messages {
            s.push_str(&format!(
                "<|im_start|>{}\n{}<|im_end|>\n",
                m.role, m.content
            ));
        }
        if add_generation_prompt {
            s.push_str("<|im_start|>assistant\n");
        }
        s
    }

    /// Tokens of a conversation with a mask that is true on the tokens the model must learn:
    /// each assistant message's content and its closing `<|im_end|>`.
    pub fn encode_chat_for_training(&self, messages: &[Message]) -> Result<(Vec<u32>, Vec<bool>)> {
        let mut ids = Vec::new();
        let mut mask = Vec::new();
        let mut push = |ids_part: Vec<u32>, learn: bool| {
            mask.extend(std::iter::repeat_n(learn, ids_part.len()));
            ids.extend(ids_part);
        };
        for m in messages {
            push(self.encode(&format!("<|im_start|>{}\n", m.role))?, false);
            let learn = m.role == "assistant";
            push(self.encode(&format!("{}<|im_end|>", m.content))?, learn);
            push(self.encode("\n")?, false);
        }
        Ok((ids, mask))
    }
}
