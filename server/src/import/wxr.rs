//! WordPress WXR export (1.0 to 1.2) reader: a quick-xml streaming pass that hands each `<item>`
//! to the caller as soon as it closes, so memory stays flat however many posts the file holds.
//!
//! Reads `title`, `dc:creator`, `content:encoded`, `wp:status`, `wp:post_type`, `wp:post_date`
//! (falling back to `pubDate`), `wp:post_name` and `<category domain="category|post_tag">`, plus
//! the channel's `wp:author` list to map logins to display names. An item without
//! `wp:post_type` or `wp:status` gets WordPress's own defaults (`post`, `draft`). Anything not well-formed
//! (mismatched tags, `]]>` outside CDATA, a file cut short) is an error with file, line and column.

use super::filters::parse_date;
use super::post::{line_col_at, BodyFormat, Post, SourceError};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The item field (or channel author field) whose text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Creator,
    Content,
    Status,
    Type,
    Date,
    PubDate,
    Slug,
    Category,
    Tag,
    AuthorLogin,
    AuthorDisplay,
}

/// Counts bytes as quick-xml pulls them, for progress reports.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Streams the items of the WXR file at `path` into `sink`. `progress` gets the bytes read so far
/// every few items. Returns the number of items read.
pub fn read(
    path: &Path,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(Post) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let file = std::fs::File::open(path)
        .map_err(|e| SourceError::new(path, None, format!("cannot open: {e}")))?;
    let counting = Counting {
        inner: file,
        count: 0,
    };
    let mut reader = Reader::from_reader(BufReader::with_capacity(256 * 1024, counting));
    reader.config_mut().check_end_names = true;

    let mut state = State::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => {
                let offset = reader.error_position();
                let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
                let hint = if reader.buffer_position() >= size {
                    "; the file ends here: is it truncated?"
                } else {
                    ""
                };
                return Err(state
                    .error(path, offset, format!("not well-formed XML: {e}{hint}"))
                    .into());
            }
        };
        match event {
            Event::Start(e) => {
                let name = e.name();
                let name = name.as_ref();
                if state.stack.is_empty() && name != "rss" {
                    let shown = name.to_string();
                    let offset = reader.buffer_position();
                    let message = format!(
                        "not a WordPress export: the root element is <{shown}>, expected <rss>"
                    );
                    return Err(state.error(path, offset, message).into());
                }
                state.stack.push(name.to_string());
                state.start(name, &e, reader.buffer_position());
            }
            Event::End(_) => {
                let name = state.stack.pop().unwrap_or_default();
                if let Some(post) = state.end(&name) {
                    state.items += 1;
                    state.last_title = post.title.clone();
                    state.last_offset = state.item_offset;
                    sink(post)?;
                    if state.items.is_multiple_of(64) {
                        progress(reader.get_ref().get_ref().count);
                    }
                }
            }
            Event::Text(e) => {
                if e.as_ref().contains("]]>") {
                    // A CDATA section closed early (nested CDATA): not well-formed XML.
                    let offset = reader.buffer_position();
                    let message = "not well-formed XML: \"]]>\" outside a CDATA section (a CDATA section nested in another one?)";
                    return Err(state.error(path, offset, message.into()).into());
                }
                if state.field.is_some() {
                    state.text.push_str(&e.xml10_content());
                }
            }
            Event::CData(e) if state.field.is_some() => state.text.push_str(e.as_ref()),
            Event::GeneralRef(e) if state.field.is_some() => {
                {
                    let name = e.xml10_content();
                    match e.resolve_char_ref() {
                        Ok(Some(c)) => state.text.push(c),
                        Ok(None) => match predefined_entity(&name) {
                            Some(c) => state.text.push(c),
                            // An HTML entity such as &nbsp; in the XML: keep it for the HTML
                            // cleaner to decode.
                            None => {
                                state.text.push('&');
                                state.text.push_str(&name);
                                state.text.push(';');
                            }
                        },
                        Err(err) => {
                            let offset = reader.buffer_position();
                            return Err(state
                                .error(path, offset, format!("bad character reference: {err}"))
                                .into());
                        }
                    }
                }
            }
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = enc.to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        let offset = reader.buffer_position();
                        let message = format!("encoding {enc} is not supported; WordPress exports are UTF-8, convert the file to UTF-8");
                        return Err(state.error(path, offset, message).into());
                    }
                }
            }
            Event::Eof => {
                if let Some(open) = state.stack.last() {
                    let open = open.clone();
                    let offset = reader.buffer_position();
                    let message = format!("the file ends inside <{open}>: it looks truncated");
                    return Err(state.error(path, offset, message).into());
                }
                if !state.saw_channel {
                    let offset = reader.buffer_position();
                    let message = "not a WordPress export: no <rss><channel> found";
                    return Err(state.error(path, offset, message.into()).into());
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    progress(reader.get_ref().get_ref().count);
    Ok(state.items)
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

#[derive(Default)]
struct State {
    stack: Vec<String>,
    saw_channel: bool,
    /// Depth of the open `<item>` (its index in `stack` + 1), if inside one.
    item_depth: Option<usize>,
    item: Option<Post>,
    item_offset: u64,
    pub_date: String,
    field: Option<Field>,
    field_depth: usize,
    text: String,
    /// Inside a channel-level `<wp:author>`: its login and display name.
    author_login: String,
    author_display: String,
    authors: HashMap<String, String>,
    items: usize,
    last_title: String,
    last_offset: u64,
}

impl State {
    fn start(&mut self, name: &str, e: &quick_xml::events::BytesStart, offset: u64) {
        let depth = self.stack.len();
        if name == "channel" && depth == 2 {
            self.saw_channel = true;
        }
        match self.item_depth {
            None if name == "item" => {
                self.item_depth = Some(depth);
                self.item_offset = offset;
                self.pub_date.clear();
                self.item = Some(Post::new(BodyFormat::Html));
            }
            Some(item_depth) if depth == item_depth + 1 => {
                let field = match name {
                    "title" => Field::Title,
                    "dc:creator" => Field::Creator,
                    "content:encoded" => Field::Content,
                    "wp:status" => Field::Status,
                    "wp:post_type" => Field::Type,
                    "wp:post_date" => Field::Date,
                    "pubDate" => Field::PubDate,
                    "wp:post_name" => Field::Slug,
                    "category" => {
                        // WXR 1.0 also writes a bare <category> per category; domain-less ones
                        // are categories too (duplicates are removed at the end of the item).
                        let domain = e
                            .try_get_attribute("domain")
                            .ok()
                            .flatten()
                            .map(|a| a.value.into_owned());
                        match domain.as_deref() {
                            Some("post_tag") | Some("tag") => Field::Tag,
                            Some("category") | None => Field::Category,
                            Some(_) => return, // custom taxonomies, post formats
                        }
                    }
                    _ => return,
                };
                self.field = Some(field);
                self.field_depth = depth;
                self.text.clear();
            }
            None if depth >= 2 && self.stack.get(depth - 2).is_some_and(|p| p == "wp:author") => {
                let field = match name {
                    "wp:author_login" => Field::AuthorLogin,
                    "wp:author_display_name" => Field::AuthorDisplay,
                    _ => return,
                };
                self.field = Some(field);
                self.field_depth = depth;
                self.text.clear();
            }
            _ => {}
        }
    }

    /// Handles a closing tag (already popped from the stack); returns a finished item.
    fn end(&mut self, name: &str) -> Option<Post> {
        let depth = self.stack.len() + 1;
        if let Some(field) = self.field {
            if depth == self.field_depth {
                self.field = None;
                let text = std::mem::take(&mut self.text);
                self.store(field, text);
                return None;
            }
        }
        if name == "wp:author" && self.item_depth.is_none() {
            let login = std::mem::take(&mut self.author_login);
            let display = std::mem::take(&mut self.author_display);
            if !login.is_empty() {
                self.authors.insert(login, display);
            }
        }
        if Some(depth) == self.item_depth && name == "item" {
            self.item_depth = None;
            let mut post = self.item.take()?;
            if post.date.is_none() {
                post.date = parse_date(&self.pub_date);
            }
            // What wp_insert_post assumes when the export leaves them out.
            post.post_type.get_or_insert_with(|| "post".into());
            post.status.get_or_insert_with(|| "draft".into());
            if let Some(login) = &post.author {
                post.author_display = self.authors.get(login).filter(|d| !d.is_empty()).cloned();
            }
            dedup(&mut post.categories);
            dedup(&mut post.tags);
            return Some(post);
        }
        None
    }

    fn store(&mut self, field: Field, text: String) {
        match field {
            Field::AuthorLogin => self.author_login = text.trim().to_string(),
            Field::AuthorDisplay => self.author_display = text.trim().to_string(),
            Field::PubDate => self.pub_date = text,
            _ => {
                let Some(post) = self.item.as_mut() else {
                    return;
                };
                match field {
                    Field::Title => post.title = text.trim().to_string(),
                    Field::Creator => {
                        let login = text.trim();
                        post.author = (!login.is_empty()).then(|| login.to_string());
                    }
                    Field::Content => post.body = text,
                    Field::Status => post.status = Some(text.trim().to_string()),
                    Field::Type => post.post_type = Some(text.trim().to_string()),
                    // Drafts carry "0000-00-00 00:00:00", which parses to nothing.
                    Field::Date => post.date = parse_date(&text),
                    Field::Slug => post.slug = text.trim().to_string(),
                    Field::Category => post.categories.push(text.trim().to_string()),
                    Field::Tag => post.tags.push(text.trim().to_string()),
                    _ => {}
                }
            }
        }
    }

    /// An error at byte `offset`, with the line and column and what was read before it.
    fn error(&self, path: &Path, offset: u64, message: String) -> SourceError {
        let mut err = SourceError::new(path, None, message);
        if let Some((line, column)) = line_col_at(path, offset) {
            err.line = Some(line);
            err.column = Some(column);
        }
        err.read_so_far = if self.items == 0 {
            "no complete item read before it".to_string()
        } else {
            let at = line_col_at(path, self.last_offset)
                .map(|(l, _)| format!(" at line {l}"))
                .unwrap_or_default();
            format!(
                "{} items read before it, the last \"{}\"{at}",
                self.items, self.last_title
            )
        };
        err
    }
}

fn dedup(list: &mut Vec<String>) {
    list.retain(|s| !s.is_empty());
    let mut seen = std::collections::HashSet::new();
    list.retain(|s| seen.insert(s.to_lowercase()));
}

/// True when the first bytes of a file look like a WXR export (used to classify `.xml` files).
pub fn sniff(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(head);
    head.contains("<rss") || head.contains("wordpress.org/export")
}

/// Reads the first `n` bytes of a file (for sniffing).
pub fn head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let buf = file.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(n - out.len());
        out.extend_from_slice(&buf[..take]);
        file.consume(take);
    }
    Ok(out)
}
