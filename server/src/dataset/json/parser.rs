//! The recursive-descent parser behind [`parse`]: values, strings with their escapes decoded
//! lazily, and the depth cap.

use super::{hex4, JsonError, JsonString, Member, Node, Value, MAX_DEPTH};
use std::borrow::Cow;

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
