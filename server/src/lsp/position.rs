//! The one place where byte offsets (what the lint engine speaks) meet LSP positions (line +
//! character in the negotiated encoding). Every conversion clamps: a position past the end of a
//! line lands on the line's end, a line past the end of the document lands on its end, and a
//! character inside a UTF-16 surrogate pair or a UTF-8 sequence rounds down to its char start.

use crate::dataset::columns::{Columns, Unit};
use ropey::Rope;
use std::borrow::Cow;
use std::ops::Range;
use tower_lsp_server::ls_types::{Position, PositionEncodingKind};

/// The position encoding agreed at `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    /// The LSP default.
    #[default]
    Utf16,
}

impl Encoding {
    /// UTF-8 when the client offers it (cheapest for us), else the mandatory UTF-16.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    /// What a column counts in this encoding.
    pub fn unit(self) -> Unit {
        match self {
            Encoding::Utf8 => Unit::Bytes,
            Encoding::Utf16 => Unit::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }
    }
}

/// The character column of byte `byte` in `line` (clamped to the line, rounded down to a char
/// boundary).
pub fn column(line: &str, byte: usize, enc: Encoding) -> u32 {
    let byte = floor_char_boundary(line, byte.min(line.len()));
    let n = match enc {
        Encoding::Utf8 => byte,
        Encoding::Utf16 => line[..byte].chars().map(char::len_utf16).sum(),
    };
    n as u32
}

/// The byte offset in `line` of character column `col` (clamped to the line's end).
pub fn byte_in_line(line: &str, col: u32, enc: Encoding) -> usize {
    let col = col as usize;
    match enc {
        Encoding::Utf8 => floor_char_boundary(line, col.min(line.len())),
        Encoding::Utf16 => {
            let mut units = 0;
            for (i, c) in line.char_indices() {
                let next = units + c.len_utf16();
                if next > col {
                    return i; // col is before or inside this char
                }
                units = next;
            }
            line.len()
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A line of a rope without its line break (`\n` or `\r\n`).
pub fn line_text(rope: &Rope, line: usize) -> Cow<'_, str> {
    let text: Cow<str> = rope.line(line).into();
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(strip_break(s)),
        Cow::Owned(s) => Cow::Owned(strip_break(&s).to_string()),
    }
}

pub fn strip_break(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

/// The LSP position of a byte offset in the document (clamped to the document).
pub fn position_of(rope: &Rope, byte: usize, enc: Encoding) -> Position {
    let byte = byte.min(rope.len_bytes());
    let line = rope.byte_to_line(byte);
    let in_line = byte - rope.line_to_byte(line);
    let text = line_text(rope, line);
    Position::new(line as u32, column(&text, in_line, enc))
}

/// LSP positions of many byte offsets of one text: O(n) to build, then O(log lines) per
/// lookup, where [`position_of`] costs the length of the line each time (quadratic for a long
/// line full of findings).
pub struct Positions<'a> {
    text: &'a str,
    starts: Vec<usize>,
    columns: Columns<'a>,
}

impl<'a> Positions<'a> {
    pub fn new(text: &'a str, enc: Encoding) -> Positions<'a> {
        Positions {
            text,
            starts: crate::dataset::line_starts(text),
            columns: Columns::new(text, enc.unit()),
        }
    }

    /// The position of `byte` (clamped to the text, rounded down to a character), as
    /// [`position_of`] gives it.
    pub fn position(&self, byte: usize) -> Position {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= byte) - 1;
        let line_end = self.starts.get(line + 1).map_or(self.text.len(), |&s| s);
        let text_end =
            self.starts[line] + strip_break(&self.text[self.starts[line]..line_end]).len();
        let column_end = byte.min(text_end);
        Position::new(
            line as u32,
            self.columns.count(self.starts[line]..column_end) as u32,
        )
    }

    pub fn range(&self, span: &Range<usize>) -> tower_lsp_server::ls_types::Range {
        tower_lsp_server::ls_types::Range::new(self.position(span.start), self.position(span.end))
    }
}

/// The byte offset of an LSP position (clamped: a line past the end is the end of the text).
pub fn byte_of(rope: &Rope, pos: Position, enc: Encoding) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_bytes();
    }
    let text = line_text(rope, line);
    rope.line_to_byte(line) + byte_in_line(&text, pos.character, enc)
}

/// The char index (ropey's unit) of an LSP position, clamped.
pub fn char_of(rope: &Rope, pos: Position, enc: Encoding) -> usize {
    rope.byte_to_char(byte_of(rope, pos, enc))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The indexed conversion gives what the per-offset one gives, at every byte.
        #[test]
        fn positions_equal_position_of(
            pieces in proptest::collection::vec(proptest::sample::select(vec!["a", "é", "中", "😀", "\n", "\r\n", "e\u{301}"]), 0..60),
            utf8 in proptest::bool::ANY,
        ) {
            let text: String = pieces.concat();
            let enc = if utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
            let rope = Rope::from_str(&text);
            let positions = Positions::new(&text, enc);
            for byte in 0..=text.len() + 1 {
                proptest::prop_assert_eq!(positions.position(byte), position_of(&rope, byte, enc), "byte {}", byte);
            }
        }
    }

    #[test]
    fn utf16_columns_count_surrogate_pairs_and_combining_marks() {
        // "é" as e + combining acute (2 chars, 3 bytes), then an emoji (4 bytes, 2 UTF-16
        // units), then CJK (3 bytes, 1 unit).
        let line = "e\u{301}😀中x";
        assert_eq!(column(line, 3, Encoding::Utf16), 2);
        assert_eq!(column(line, 7, Encoding::Utf16), 4);
        assert_eq!(column(line, 10, Encoding::Utf16), 5);
        assert_eq!(column(line, 10, Encoding::Utf8), 10);
        // Inside the emoji: rounds down to its start.
        assert_eq!(column(line, 5, Encoding::Utf16), 2);
        assert_eq!(byte_in_line(line, 2, Encoding::Utf16), 3);
        assert_eq!(byte_in_line(line, 3, Encoding::Utf16), 3); // inside the pair
        assert_eq!(byte_in_line(line, 4, Encoding::Utf16), 7);
        assert_eq!(byte_in_line(line, 5, Encoding::Utf16), 10);
        assert_eq!(byte_in_line(line, 99, Encoding::Utf16), line.len());
        assert_eq!(byte_in_line(line, 5, Encoding::Utf8), 3); // inside the emoji's bytes
        assert_eq!(byte_in_line(line, 99, Encoding::Utf8), line.len());
    }

    #[test]
    fn positions_clamp_to_the_document() {
        let rope = Rope::from_str("ab\r\n中文\nlast");
        assert_eq!(byte_of(&rope, Position::new(0, 99), Encoding::Utf16), 2);
        assert_eq!(byte_of(&rope, Position::new(1, 1), Encoding::Utf16), 7);
        assert_eq!(
            byte_of(&rope, Position::new(9, 0), Encoding::Utf16),
            rope.len_bytes()
        );
        assert_eq!(position_of(&rope, 7, Encoding::Utf16), Position::new(1, 1));
        assert_eq!(position_of(&rope, 3, Encoding::Utf16), Position::new(0, 2));
        assert_eq!(position_of(&rope, 999, Encoding::Utf8), Position::new(2, 4));
        for p in [
            Position::new(u32::MAX, u32::MAX),
            Position::new(1, u32::MAX),
        ] {
            let b = byte_of(&rope, p, Encoding::Utf16);
            assert!(b <= rope.len_bytes());
        }
    }
}
