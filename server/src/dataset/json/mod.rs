//! A JSON reader that keeps byte spans: every value knows where it sits in the line, and every
//! string can map an offset in its decoded text back to the raw line through escapes
//! (`\n`, `\u003c`, `\"`, surrogate pairs). serde_json validates but forgets positions; lint
//! findings must point at the exact characters, so this reader keeps them.
//!
//! Strict RFC 8259: no trailing commas, no comments, no control characters in strings, no lone
//! surrogates. Nesting is capped so hostile input cannot overflow the stack.

mod parser;

pub use parser::parse;

use std::borrow::Cow;
use std::ops::Range;

const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    /// Byte range of the whole value in the parsed text.
    pub span: Range<usize>,
    pub value: Value<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written.
    Number(&'a str),
    String(JsonString<'a>),
    Array(Vec<Node<'a>>),
    Object(Vec<Member<'a>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    pub key: JsonString<'a>,
    /// Byte range of the key including its quotes.
    pub key_span: Range<usize>,
    pub value: Node<'a>,
}

/// A string value: its raw text between the quotes and its decoded text.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonString<'a> {
    /// The raw characters between the quotes, escapes as written.
    pub raw: &'a str,
    /// Byte offset of `raw` in the parsed text (just after the opening quote).
    pub raw_start: usize,
    /// The decoded text; borrowed when the raw text has no escapes.
    pub text: Cow<'a, str>,
}

impl JsonString<'_> {
    /// Maps a byte offset in the decoded text to a byte offset in the parsed text. Offsets on
    /// a char boundary of the decoded text land on the start of that char's raw form.
    pub fn raw_offset(&self, decoded: usize) -> usize {
        if let Cow::Borrowed(_) = self.text {
            return self.raw_start + decoded.min(self.raw.len());
        }
        let raw = self.raw.as_bytes();
        let (mut r, mut d) = (0usize, 0usize);
        while d < decoded && r < raw.len() {
            let (raw_len, decoded_len) = escape_unit(raw, r);
            r += raw_len;
            d += decoded_len;
        }
        self.raw_start + r
    }

    /// Maps a decoded byte range to a raw byte range (in the parsed text).
    pub fn raw_range(&self, decoded: Range<usize>) -> Range<usize> {
        self.raw_offset(decoded.start)..self.raw_offset(decoded.end)
    }

    /// The escapes of this string, for many lookups: [`Self::raw_offset`] scans from the start
    /// of the string, which is fine once per record but quadratic for a finding at every URL of
    /// a long string.
    pub fn offset_map(&self) -> OffsetMap {
        OffsetMap::new(self)
    }
}

/// Decoded -> raw offsets of one [`JsonString`], the same as [`JsonString::raw_offset`] gives.
/// Built in one pass over the raw text (O(n)); each lookup is a binary search over the escapes
/// (O(log e)), so mapping every finding of a string is O(n + f log e), not O(n * f).
#[derive(Debug, Clone)]
pub struct OffsetMap {
    raw_start: usize,
    raw_len: usize,
    decoded_len: usize,
    /// No escapes: offsets map one to one (clamped), as `raw_offset` does for borrowed text.
    borrowed: bool,
    /// Every escape, in order.
    escapes: Vec<EscapeSpan>,
}

#[derive(Debug, Clone, Copy)]
struct EscapeSpan {
    decoded: usize,
    raw: usize,
    decoded_len: u8,
    raw_len: u8,
}

impl OffsetMap {
    fn new(string: &JsonString) -> OffsetMap {
        let raw = string.raw.as_bytes();
        let borrowed = matches!(string.text, Cow::Borrowed(_));
        let mut escapes = Vec::new();
        let (mut r, mut d) = (0usize, 0usize);
        while !borrowed && r < raw.len() {
            match memchr::memchr(b'\\', &raw[r..]) {
                None => {
                    d += raw.len() - r;
                    r = raw.len();
                }
                Some(plain) => {
                    // Plain bytes decode to themselves.
                    r += plain;
                    d += plain;
                    let (raw_len, decoded_len) = escape_unit(raw, r);
                    escapes.push(EscapeSpan {
                        decoded: d,
                        raw: r,
                        decoded_len: decoded_len as u8,
                        raw_len: raw_len as u8,
                    });
                    r += raw_len;
                    d += decoded_len;
                }
            }
        }
        OffsetMap {
            raw_start: string.raw_start,
            raw_len: raw.len(),
            decoded_len: if borrowed { raw.len() } else { d },
            borrowed,
            escapes,
        }
    }

    /// [`JsonString::raw_offset`] of `decoded`, with `raw` the string's raw text.
    pub fn raw_offset(&self, raw: &str, decoded: usize) -> usize {
        if self.borrowed {
            return self.raw_start + decoded.min(self.raw_len);
        }
        if decoded >= self.decoded_len {
            return self.raw_start + self.raw_len;
        }
        let after = self.escapes.partition_point(|e| e.decoded <= decoded);
        let (plain_decoded, plain_raw) = match after.checked_sub(1).map(|i| self.escapes[i]) {
            Some(e) if decoded == e.decoded => return self.raw_start + e.raw,
            // Inside an escape's character: the scan stops after the whole escape.
            Some(e) if decoded < e.decoded + e.decoded_len as usize => {
                return self.raw_start + e.raw + e.raw_len as usize
            }
            Some(e) => (
                e.decoded + e.decoded_len as usize,
                e.raw + e.raw_len as usize,
            ),
            None => (0, 0),
        };
        // A plain stretch: raw and decoded bytes are the same; inside a character the scan
        // stops after it.
        let mut r = plain_raw + (decoded - plain_decoded);
        while !raw.is_char_boundary(r) {
            r += 1;
        }
        self.raw_start + r
    }

    /// [`JsonString::raw_range`] through the map.
    pub fn raw_range(&self, raw: &str, decoded: Range<usize>) -> Range<usize> {
        self.raw_offset(raw, decoded.start)..self.raw_offset(raw, decoded.end)
    }
}

/// The raw and decoded byte lengths of the unit (char or escape) at `raw[r]`.
fn escape_unit(raw: &[u8], r: usize) -> (usize, usize) {
    #[cfg(test)]
    tests::UNITS_SCANNED.with(|n| n.set(n.get() + 1));
    if raw[r] != b'\\' {
        let len = utf8_len(raw[r]);
        return (len, len);
    }
    match raw.get(r + 1) {
        Some(b'u') => {
            let code = hex4(&raw[r + 2..]).unwrap_or(0xFFFD);
            if (0xD800..0xDC00).contains(&code)
                && raw.get(r + 6) == Some(&b'\\')
                && raw.get(r + 7) == Some(&b'u')
            {
                // A surrogate pair: two escapes, one 4-byte char.
                (12, 4)
            } else {
                (6, char::from_u32(code).map_or(3, char::len_utf8))
            }
        }
        _ => (2, 1),
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    let digits = bytes.get(..4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// A syntax error: where it is (byte offset in the parsed text) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    pub offset: usize,
    pub message: String,
}

/// Encodes `text` as the inside of a JSON string literal (no quotes), escaping only what JSON
/// requires so that edited lines stay close to the original.
pub fn escape_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

impl<'a> Node<'a> {
    /// The member named `key`, if this is an object (the last one wins, as in serde_json).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.value {
            Value::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key.text == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&JsonString<'a>> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[Member<'a>]> {
        match &self.value {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// A short name of the value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    thread_local! {
        /// How many units (characters or escapes) [`escape_unit`] stepped over on this thread.
        pub(crate) static UNITS_SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn string_at<'a>(node: &'a Node<'a>, key: &str) -> &'a JsonString<'a> {
        node.get(key).and_then(Node::as_str).unwrap()
    }

    #[test]
    fn spans_and_plain_strings() {
        let line = r#"{"a": "hello", "b": [1, -2.5e3, true, null]}"#;
        let node = parse(line).unwrap();
        let a = string_at(&node, "a");
        assert_eq!(&line[a.raw_start..a.raw_start + a.raw.len()], "hello");
        assert_eq!(a.raw_offset(2), line.find("llo").unwrap());
        assert_eq!(node.span, 0..line.len());
    }

    #[test]
    fn escapes_map_back_to_raw_positions() {
        // decoded: `a\n<p>"x"😀 é<`
        let line = r#"{"s": "a\n\u003cp>\"x\"\ud83d\ude00 \u00e9<"}"#;
        let node = parse(line).unwrap();
        let s = string_at(&node, "s");
        assert_eq!(s.text, "a\n<p>\"x\"😀 é<");
        let decoded = &s.text;
        let lt = decoded.find("<p>").unwrap();
        let range = s.raw_range(lt..lt + 3);
        assert_eq!(&line[range], r"\u003cp>");
        let quote = decoded.find('"').unwrap();
        assert_eq!(&line[s.raw_range(quote..quote + 1)], r#"\""#);
        let emoji = decoded.find('😀').unwrap();
        assert_eq!(&line[s.raw_range(emoji..emoji + 4)], r"\ud83d\ude00");
        let e = decoded.find('é').unwrap();
        assert_eq!(&line[s.raw_range(e..e + 2)], r"\u00e9");
        let last = decoded.len() - 1;
        assert_eq!(&line[s.raw_range(last..last + 1)], "<");
    }

    #[test]
    fn errors_say_where_and_what() {
        let cases = [
            (r#"{"a": 1,}"#, "trailing comma"),
            (r#"{"a": "x"#, "unterminated string"),
            (r#"{'a': 1}"#, "expected a key"),
            (r#"{"a": 01}"#, "leading zeros"),
            (r#"{"a": "\ud800"}"#, "lone high surrogate"),
            ("{\"a\": \"tab\there\"}", "control character"),
            (r#"{"a": 1} x"#, "after the JSON value"),
            (r#"{"a": 1"#, "end of line inside an object"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(expected), "{text}: {err:?}");
            assert!(err.offset <= text.len());
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).unwrap_err().message.contains("nesting"));
    }

    #[test]
    fn escape_round_trips_through_serde() {
        let original = "quote \" backslash \\ newline \n tab \t bell \u{7} 😀";
        let literal = format!("\"{}\"", escape_str(original));
        let back: String = serde_json::from_str(&literal).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn agrees_with_serde_on_valid_json() {
        let line = r#"{"messages":[{"role":"user","content":"Hi \"there\" \u00e9\n"}],"weight":1}"#;
        let ours = parse(line).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(line).unwrap();
        let content = ours.get("messages").unwrap().as_array().unwrap()[0]
            .get("content")
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(
            content.text,
            theirs["messages"][0]["content"].as_str().unwrap()
        );
    }

    /// Strings with every kind of escape, CJK, emoji and combining marks.
    fn hostile_string() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "a",
            " ",
            "<p>",
            "中",
            "😀",
            "e\u{301}",
            "\"",
            "\\",
            "\n",
            "\u{7}",
            "\u{2028}",
            "é",
            "https://x.example/a",
            "\u{ad}",
        ]);
        prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// The one-pass map gives exactly what the scan gives, at every offset (char boundaries
        /// or not, past the end too), whichever way the string was escaped.
        #[test]
        fn offset_map_equals_the_scan(text in hostile_string(), ascii in any::<bool>(), pad in 0usize..3) {
            let literal = if ascii {
                // Everything non-ASCII as \u escapes (surrogate pairs for emoji).
                serde_json::to_string(&text).unwrap().chars().flat_map(|c| {
                    if c.is_ascii() { vec![c.to_string()] } else {
                        let mut units = [0u16; 2];
                        c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04x}")).collect()
                    }
                }).collect::<String>()
            } else {
                serde_json::to_string(&text).unwrap()
            };
            let line = format!("{}{{\"s\": {literal}}}", " ".repeat(pad));
            let node = parse(&line).unwrap();
            let s = string_at(&node, "s");
            prop_assert_eq!(&s.text, &text);
            let map = s.offset_map();
            for d in 0..=text.len() + 2 {
                prop_assert_eq!(map.raw_offset(s.raw, d), s.raw_offset(d), "offset {}", d);
            }
        }
    }
}
