//! A JSON reader that keeps byte spans: every value knows where it sits in the line, and every
//! string can map an offset in its decoded text back to the raw line through escapes
//! (`\n`, `\u003c`, `\"`, surrogate pairs). serde_json validates but forgets positions; lint
//! findings must point at the exact characters, so this reader keeps them.
//!
//! Strict RFC 8259: no trailing commas, no comments, no control characters in strings, no lone
//! surrogates. Nesting is capped so hostile input cannot overflow the stack.

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
}

/// The raw and decoded byte lengths of the unit (char or escape) at `raw[r]`.
fn escape_unit(raw: &[u8], r: usize) -> (usize, usize) {
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

/// Parses one complete JSON value from `text` (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Node<'_>, JsonError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let node = parser.value()?;
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected text after the JSON value (one record per line)"));
    }
    Ok(node)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Node<'a>, JsonError> {
        let start = self.pos;
        let value =
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unexpected end of line: a value is missing")),
                Some(b'{') => self.object()?,
                Some(b'[') => self.array()?,
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b'\'') => {
                    return Err(self.error("strings must use double quotes, not single quotes"))
                }
                Some(_) => return Err(self.error(
                    "expected a JSON value (object, array, string, number, true, false or null)",
                )),
            };
        Ok(Node {
            span: start..self.pos,
            value,
        })
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value<'a>, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b'"') => {}
                Some(b'}') => return Err(self.error("trailing comma before `}`")),
                None => return Err(self.error("unexpected end of line inside an object: a JSONL record must be one complete object on one line")),
                Some(_) => return Err(self.error("expected a key in double quotes")),
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = key_start..self.pos;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after the key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(members));
                }
                None => return Err(self.error("unexpected end of line inside an object: a JSONL record must be one complete object on one line")),
                Some(_) => return Err(self.error("expected `,` or `}` after an object member")),
            }
        }
    }

    fn array(&mut self) -> Result<Value<'a>, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) == Some(&b']') {
                return Err(self.error("trailing comma before `]`"));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                None => return Err(self.error("unexpected end of line inside an array")),
                Some(_) => return Err(self.error("expected `,` or `]` after an array item")),
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("invalid literal; did you mean `{word}`?")))
        }
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Parser| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.bytes.get(p.pos) {
                p.pos += 1;
            }
            p.pos > s
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if self.bytes.get(self.pos) == Some(&b'0') {
            self.pos += 1;
            if let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
                return Err(self.error("numbers must not have leading zeros"));
            }
        } else if !digits(self) {
            return Err(self.error("invalid number"));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error("invalid number: digits expected after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error("invalid number: digits expected in the exponent"));
            }
        }
        Ok(Value::Number(&self.text[start..self.pos]))
    }

    fn string(&mut self) -> Result<JsonString<'a>, JsonError> {
        self.pos += 1; // opening quote
        let raw_start = self.pos;
        // Fast path: find the closing quote; escapes and control characters send us to decode.
        let rest = &self.bytes[self.pos..];
        let stop = memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
        let plain = &rest[..stop];
        if rest.get(stop) == Some(&b'"') && !plain.iter().any(|&b| b < 0x20) {
            self.pos += stop + 1;
            let raw = &self.text[raw_start..raw_start + stop];
            return Ok(JsonString {
                raw,
                raw_start,
                text: Cow::Borrowed(raw),
            });
        }
        let mut decoded = String::with_capacity(stop + 16);
        let mut escaped = false;
        loop {
            // Copy the run of plain characters up to the next quote or backslash in one go.
            let rest = &self.bytes[self.pos..];
            let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
            if let Some(at) = rest[..run].iter().position(|&b| b < 0x20) {
                self.pos += at;
                let b = self.bytes[self.pos];
                return Err(self.error(format!(
                    "control character U+{b:04X} in a string: write it as an escape such as \\n or \\t"
                )));
            }
            decoded.push_str(&self.text[self.pos..self.pos + run]);
            self.pos += run;
            match self.bytes.get(self.pos) {
                None => {
                    self.pos = raw_start - 1;
                    return Err(self.error("unterminated string: the closing `\"` is missing"));
                }
                Some(b'"') => break,
                _ => {
                    escaped = true;
                    let ch = self.escape()?;
                    decoded.push(ch);
                }
            }
        }
        let raw = &self.text[raw_start..self.pos];
        self.pos += 1; // closing quote
        let text = if escaped {
            Cow::Owned(decoded)
        } else {
            Cow::Borrowed(raw)
        };
        Ok(JsonString {
            raw,
            raw_start,
            text,
        })
    }

    /// Decodes the escape at `pos` (a backslash), advancing past it.
    fn escape(&mut self) -> Result<char, JsonError> {
        let ch = match self.bytes.get(self.pos + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            _ => {
                return Err(
                    self.error("invalid escape: use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX")
                )
            }
        };
        self.pos += 2;
        Ok(ch)
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let Some(high) = hex4(&self.bytes[self.pos + 2..]) else {
            return Err(self.error("invalid \\u escape: four hex digits expected"));
        };
        if (0xDC00..0xE000).contains(&high) {
            return Err(self.error("lone low surrogate in a \\u escape"));
        }
        if (0xD800..0xDC00).contains(&high) {
            let rest = &self.bytes[self.pos + 6..];
            let low = if rest.starts_with(b"\\u") {
                hex4(&rest[2..])
            } else {
                None
            };
            match low {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    self.pos += 12;
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    return Ok(char::from_u32(code).expect("valid surrogate pair"));
                }
                _ => {
                    return Err(self.error(
                        "lone high surrogate in a \\u escape: the low half of the pair is missing",
                    ))
                }
            }
        }
        self.pos += 6;
        Ok(char::from_u32(high).expect("non-surrogate BMP code point"))
    }
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
mod tests {
    use super::*;

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
}
