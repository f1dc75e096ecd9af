//! The pre-tokenizer of the OpenAI encodings (text -> pieces, each then counted by BPE), with a
//! regex search cache per thread.
//!
//! `bpe_openai::Tokenizer::split` does the same split, but its regex takes a search cache from
//! a shared pool on every piece; with both cores linting, the second thread's pool round trips
//! (a lock per piece) cost ~14% of `voicetune lint`. Here each thread keeps its own cache. The
//! patterns are bpe-openai's: tiktoken's, with the negative look-ahead `\s+(?!\S)` rewritten as
//! a pattern that consumes one look-ahead character, which the iterator gives back. A test
//! checks that the pieces equal bpe-openai's on mixed text.

use super::models::Encoding;
use regex_automata::meta::{Cache, Regex};
use regex_automata::{Anchored, Input};
use std::cell::RefCell;
use std::sync::LazyLock;

/// The patterns; the bool says whether the last character of a match is a look-ahead.
fn patterns(encoding: Encoding) -> Vec<(String, bool)> {
    let first = match encoding {
        Encoding::O200kBase => [
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            r"\p{N}{1,3}",
            r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
            r"\s*[\r\n]+",
            r"\s+$",
        ]
        .join("|"),
        Encoding::Cl100kBase | Encoding::Local => {
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+$".to_string()
        }
    };
    vec![
        (first, false),
        (r"\s+\s".to_string(), true),
        (r"\s+".to_string(), false),
    ]
}

struct Splitter {
    regex: Regex,
    lookahead: Vec<bool>,
}

impl Splitter {
    fn new(encoding: Encoding) -> Splitter {
        let (pats, lookahead): (Vec<String>, Vec<bool>) = patterns(encoding).into_iter().unzip();
        Splitter {
            regex: Regex::new_many(&pats).expect("valid pre-tokenizer patterns"),
            lookahead,
        }
    }
}

static O200K: LazyLock<Splitter> = LazyLock::new(|| Splitter::new(Encoding::O200kBase));
static CL100K: LazyLock<Splitter> = LazyLock::new(|| Splitter::new(Encoding::Cl100kBase));

fn splitter(encoding: Encoding) -> &'static Splitter {
    match encoding {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase | Encoding::Local => &CL100K,
    }
}

thread_local! {
    /// This thread's search caches, one per encoding (index: `Encoding as usize`).
    static CACHES: RefCell<[Option<Cache>; 3]> = const { RefCell::new([None, None, None]) };
}

/// Calls `each` with every piece of `text`, in order.
pub fn for_each_piece(encoding: Encoding, text: &str, mut each: impl FnMut(&str)) {
    let splitter = splitter(encoding);
    CACHES.with_borrow_mut(|caches| {
        let cache = caches[encoding as usize].get_or_insert_with(|| splitter.regex.create_cache());
        let mut last = 0;
        while last < text.len() {
            let input = Input::new(&text[last..]).anchored(Anchored::Yes);
            let Some(m) = splitter.regex.search_with(cache, &input) else {
                break;
            };
            let mut end = last + m.end();
            if splitter.lookahead[m.pattern().as_usize()] {
                // Give the look-ahead character back (patterns guarantee one more before it).
                let ahead = text[last..end]
                    .chars()
                    .next_back()
                    .map_or(0, char::len_utf8);
                end -= ahead;
            }
            if end == last {
                break; // cannot happen with these patterns; never loop forever
            }
            each(&text[last..end]);
            last = end;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(encoding: Encoding, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_piece(encoding, text, |p| out.push(p.to_string()));
        out
    }

    #[test]
    fn pieces_equal_bpe_openai() {
        let texts = [
            "Hello, world! It's 2024 and we're testing 12345 numbers.",
            "  leading spaces\n\n\nand\r\nCRLF lines   \t tabs  ",
            "CamelCase HTTPServer don'T I'LL naïve café 日本語のテキスト 🙂🙂 emoji",
            "<p>html</p> https://example.com/a/b?c=d&e=f path/to/file.md\n",
            "trailing whitespace at the end   ",
            "",
            " ",
            "\n",
            "a",
            "mixed\u{301} combining marks and ١٢٣ digits",
        ];
        let encodings = [
            (Encoding::O200kBase, bpe_openai::o200k_base()),
            (Encoding::Cl100kBase, bpe_openai::cl100k_base()),
        ];
        for text in texts {
            for (encoding, reference) in encodings {
                let expected: Vec<String> = reference.split(text).map(str::to_string).collect();
                assert_eq!(pieces(encoding, text), expected, "{encoding:?}: {text:?}");
            }
        }
    }
}
