//! Token counting, exactly as OpenAI counts: tiktoken encodings (o200k_base for the gpt-4o and
//! gpt-4.1 families, cl100k_base for gpt-3.5) with the cookbook's per-message overhead.
//!
//! Counting uses the `bpe-openai` crate: the same encodings, identical counts to tiktoken-rs
//! (checked in tests/lint.rs on real text), and ~1.4x faster here (BENCHMARKS.md).

pub mod models;
mod split;
pub mod stats;

pub use models::{lookup, ModelInfo, DEFAULT_MODEL};

use bpe_openai::Tokenizer;
use models::Encoding;
use std::cell::RefCell;

/// Tokens every chat message costs beyond its values (`<|start|>role ... <|end|>`).
pub const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token when a message has a `name`.
pub const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: usize = 3;

fn bpe(encoding: Encoding) -> &'static Tokenizer {
    match encoding {
        Encoding::O200kBase => bpe_openai::o200k_base(),
        Encoding::Cl100kBase | Encoding::Local => bpe_openai::cl100k_base(),
    }
}

/// A counter bound to one model's encoding; cheap to copy and shareable across threads.
#[derive(Clone, Copy)]
pub struct Counter {
    bpe: &'static Tokenizer,
    encoding: Encoding,
    pub model: &'static ModelInfo,
}

impl Counter {
    pub fn for_model(model: &'static ModelInfo) -> Counter {
        Counter {
            bpe: bpe(model.encoding),
            encoding: model.encoding,
            model,
        }
    }

    /// Loads the encoding's tables and pre-tokenizer now (tens of ms), e.g. on another thread
    /// while a file is read, instead of on the first count.
    pub fn prepare(&self) {
        split::for_each_piece(self.encoding, "warm up", |_| {});
        let _ = self.bpe.bpe.num_tokens();
    }

    /// Tokens in `text`, special-token strings counted as ordinary text (as the service does).
    pub fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let tag = self.encoding as u8;
        PIECES.with_borrow_mut(|memo| {
            let mut total = 0;
            split::for_each_piece(self.encoding, text, |piece| {
                total += memo.count(tag, piece.as_bytes(), &self.bpe.bpe);
            });
            total
        })
    }
}

/// Tokens in `text` for `model_name` (unknown models use the default model's encoding).
pub fn count_text(model_name: &str, text: &str) -> usize {
    let model = lookup(model_name).unwrap_or_else(|| lookup(DEFAULT_MODEL).expect("default model"));
    Counter::for_model(model).count(text)
}

thread_local! {
    static PIECES: RefCell<PieceCounts> = RefCell::new(PieceCounts::default());
}

/// Token counts of short pre-tokenized pieces (words with their leading space, punctuation),
/// remembered per thread. Natural text repeats a few thousand pieces, and a lookup costs a
/// fraction of running the BPE on a piece (which allocates twice); counts stay exact, since a
/// piece's count never depends on its neighbours once the pre-tokenizer has split the text.
#[derive(Default)]
struct PieceCounts {
    /// By a hash of the key; the whole key is compared on a hit, so a hash collision only
    /// costs a recount.
    map: crate::hashkey::HashKeyMap<(PieceKey, u32)>,
}

/// A piece of up to 23 bytes, zero-padded, with its length and encoding in the last byte.
#[derive(PartialEq, Eq, Clone, Copy)]
struct PieceKey([u64; 3]);

impl PieceKey {
    const MAX_LEN: usize = 23;

    fn new(encoding: u8, piece: &[u8]) -> PieceKey {
        let mut bytes = [0u8; 24];
        bytes[..piece.len()].copy_from_slice(piece);
        bytes[23] = (piece.len() as u8) | (encoding << 5);
        let word = |k: usize| u64::from_le_bytes(bytes[8 * k..8 * k + 8].try_into().expect("8"));
        PieceKey([word(0), word(1), word(2)])
    }

    fn hash(&self) -> u64 {
        let [a, b, c] = self.0;
        let h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ b.rotate_left(23).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ c.rotate_left(47).wrapping_mul(0x1656_67B1_9E37_79F9);
        h ^ (h >> 29)
    }
}

impl PieceCounts {
    /// Bounds memory per thread (~1.5 MB); the table starts over when full.
    const MAX_ENTRIES: usize = 1 << 15;

    fn count(
        &mut self,
        encoding: u8,
        piece: &[u8],
        bpe: &bpe_openai::byte_pair_encoding::BytePairEncoding,
    ) -> usize {
        if piece.len() > PieceKey::MAX_LEN {
            return bpe.count(piece);
        }
        let key = PieceKey::new(encoding, piece);
        let hash = key.hash();
        if let Some((known, tokens)) = self.map.get(&hash) {
            if *known == key {
                return *tokens as usize;
            }
            return bpe.count(piece);
        }
        let tokens = bpe.count(piece);
        if self.map.len() >= Self::MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(hash, (key, tokens as u32));
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_counts() {
        // "hello world" is 2 tokens in both encodings; the emoji differs between them.
        assert_eq!(count_text("gpt-4o-mini", "hello world"), 2);
        assert_eq!(count_text("gpt-3.5-turbo-0125", "hello world"), 2);
        assert_eq!(count_text("gpt-4o-mini", ""), 0);
    }

    #[test]
    fn remembered_piece_counts_are_per_encoding_and_exact() {
        // The emoji is one piece with different counts in the two encodings; counting in one
        // thread, alternately, must not mix them up, and repeated counts must not drift.
        let text = "hello 🙂🙂🙂 world, it's a café day! supercalifragilisticexpialidocious";
        let o200k = bpe_openai::o200k_base().count(text);
        let cl100k = bpe_openai::cl100k_base().count(text);
        for _ in 0..3 {
            assert_eq!(count_text("gpt-4o-mini", text), o200k);
            assert_eq!(count_text("gpt-3.5-turbo-0125", text), cl100k);
        }
    }

    #[test]
    fn default_epochs_match_the_cookbook() {
        assert_eq!(models::default_epochs(5), 20);
        assert_eq!(models::default_epochs(1), 25);
        assert_eq!(models::default_epochs(100), 3);
        assert_eq!(models::default_epochs(20_000), 1);
        assert_eq!(models::default_epochs(10_000), 2);
    }
}
