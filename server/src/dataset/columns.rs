//! Columns of a long text in O(1) per lookup: how many characters (or UTF-16 units) lie between
//! two byte offsets. Counting from the start of the line for each finding would make a line
//! with many findings quadratic (a 20 MB one-line dataset has 700,000); here the count before
//! every 4 KiB block is taken once (O(n)) and a lookup counts at most one block.

use std::ops::Range;

/// What a column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Unicode scalar values (what people and the CLI count).
    Chars,
    /// UTF-16 code units (the LSP default): 2 for a character outside the BMP.
    Utf16,
    /// Bytes (LSP's negotiated UTF-8).
    Bytes,
}

const BLOCK: usize = 4096;

pub struct Columns<'a> {
    bytes: &'a [u8],
    unit: Unit,
    /// Units before each block.
    before_block: Vec<usize>,
}

impl<'a> Columns<'a> {
    pub fn new(text: &'a str, unit: Unit) -> Columns<'a> {
        let bytes = text.as_bytes();
        let mut before_block = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut total = 0;
        for block in bytes.chunks(BLOCK) {
            before_block.push(total);
            total += units(block, unit);
        }
        Columns {
            bytes,
            unit,
            before_block,
        }
    }

    /// Units in `range` (byte offsets on character boundaries, clamped to the text).
    pub fn count(&self, range: Range<usize>) -> usize {
        self.before(range.end)
            .saturating_sub(self.before(range.start))
    }

    /// Units before byte `at`.
    fn before(&self, at: usize) -> usize {
        let at = at.min(self.bytes.len());
        let block = at / BLOCK;
        match self.before_block.get(block) {
            Some(&n) => n + units(&self.bytes[block * BLOCK..at], self.unit),
            // `at` is the end of a text whose length is a multiple of the block size.
            None => self.before_block.last().map_or(0, |&n| {
                n + units(&self.bytes[(block - 1) * BLOCK..at], self.unit)
            }),
        }
    }
}

/// Units in a run of UTF-8 bytes that starts on a character boundary: every byte that starts
/// a character counts one, and for UTF-16 a 4-byte character counts two.
fn units(bytes: &[u8], unit: Unit) -> usize {
    match unit {
        Unit::Bytes => bytes.len(),
        Unit::Chars => bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count(),
        Unit::Utf16 => bytes
            .iter()
            .map(|&b| usize::from((b & 0xC0) != 0x80) + usize::from(b >= 0xF0))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn counts_equal_a_direct_count(
            pieces in prop::collection::vec(prop::sample::select(vec!["a", "é", "中", "😀", "\n", "e\u{301}"]), 0..3000),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 2),
        ) {
            let text: String = pieces.concat();
            let bounds: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let (mut a, mut b) = (cuts[0].get(&bounds), cuts[1].get(&bounds));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let slice = &text[*a..*b];
            prop_assert_eq!(Columns::new(&text, Unit::Chars).count(*a..*b), slice.chars().count());
            prop_assert_eq!(Columns::new(&text, Unit::Utf16).count(*a..*b), slice.encode_utf16().count());
            prop_assert_eq!(Columns::new(&text, Unit::Bytes).count(*a..*b), slice.len());
        }
    }

    #[test]
    fn a_text_of_whole_blocks_counts_to_its_end() {
        let text = "中".repeat(BLOCK); // 3 blocks exactly
        assert_eq!(Columns::new(&text, Unit::Chars).count(0..text.len()), BLOCK);
    }
}
