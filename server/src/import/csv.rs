//! WordPress CSV exports (WP All Export, phpMyAdmin dumps of `wp_posts`, spreadsheet exports):
//! comma- or tab-separated, headers mapped to post fields, streamed row by row.
//!
//! Comma-, tab- or semicolon-separated (sniffed from the first line), LF or CRLF. Headers are
//! matched case-insensitively with common aliases; columns the builder does not know are ignored
//! and listed in the report (`--strict-columns` makes them an error). A file whose first row is
//! data from a `wp_posts` table (23 fields, numeric ID) is read in WordPress's column order.
//!
//! Fields that are not valid UTF-8 (a spreadsheet saved as Windows-1252 in the middle of a UTF-8
//! file) are decoded as Windows-1252 (a superset of Latin-1's printable range), counted and
//! reported, never dropped; a UTF-16 file (Excel's "Unicode text") is decoded whole.

use super::filters::parse_date;
use super::options::BuildField;
use super::post::{BodyFormat, Post, SourceError};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Title,
    Content,
    Author,
    AuthorDisplay,
    Date,
    Status,
    Type,
    Slug,
    Tags,
    Categories,
    /// A known WordPress column the builder does not use (ID, excerpt, guid, ...).
    Ignored,
}

/// Maps a header to a column; `None` for an unknown header.
fn column_for(header: &str) -> Option<Column> {
    let key: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    Some(match key.as_str() {
        "post_title" | "title" | "headline" => Column::Title,
        "post_content" | "content" | "body" | "post_body" | "text" => Column::Content,
        "post_author" | "author" | "author_login" | "author_username" | "user_login" => {
            Column::Author
        }
        "author_display_name" | "display_name" | "author_name" => Column::AuthorDisplay,
        "post_date" | "date" | "published" | "publish_date" | "date_published" | "pubdate" => {
            Column::Date
        }
        "post_status" | "status" => Column::Status,
        "post_type" | "type" => Column::Type,
        "post_name" | "slug" => Column::Slug,
        "tags" | "tag" | "post_tag" | "post_tags" => Column::Tags,
        "categories" | "category" | "post_category" => Column::Categories,
        "id"
        | "post_id"
        | "post_excerpt"
        | "excerpt"
        | "guid"
        | "permalink"
        | "permlink"
        | "link"
        | "url"
        | "post_date_gmt"
        | "post_modified"
        | "post_modified_gmt"
        | "comment_status"
        | "ping_status"
        | "post_password"
        | "post_parent"
        | "parent"
        | "menu_order"
        | "comment_count"
        | "post_mime_type"
        | "to_ping"
        | "pinged"
        | "post_content_filtered"
        | "post_format"
        | "author_email"
        | "author_id"
        | "author_first_name"
        | "author_last_name"
        | "featured_image"
        | "image_url"
        | "image_title"
        | "image_caption"
        | "image_description"
        | "image_alt_text"
        | "image_featured"
        | "attachment_url"
        | "sticky"
        | "modified_date"
        | "parent_slug"
        | "post_modified_date"
        | "order" => Column::Ignored,
        _ => return None,
    })
}

/// The columns of a `wp_posts` table in WordPress's own order, as a header-less dump
/// (phpMyAdmin, `mysqldump --tab`) writes them.
pub const WP_POSTS_COLUMNS: [&str; 23] = [
    "ID",
    "post_author",
    "post_date",
    "post_date_gmt",
    "post_content",
    "post_title",
    "post_excerpt",
    "post_status",
    "comment_status",
    "ping_status",
    "post_password",
    "post_name",
    "to_ping",
    "pinged",
    "post_modified",
    "post_modified_gmt",
    "post_content_filtered",
    "post_parent",
    "guid",
    "menu_order",
    "post_type",
    "post_mime_type",
    "comment_count",
];

/// What the reader noticed that the report should mention.
#[derive(Debug, Default, Clone)]
pub struct CsvNotes {
    pub delimiter: char,
    /// Lines whose fields were not valid UTF-8 and were decoded as Windows-1252.
    pub windows_1252_lines: Vec<u64>,
    /// Fields decoded as Windows-1252 (a line can hold several).
    pub windows_1252_fields: usize,
    /// Set when the whole file was UTF-16.
    pub utf16: bool,
    /// Header columns the builder does not know, as `"Name" (column N)`; their values are not
    /// read.
    pub ignored_columns: Vec<String>,
    /// Set when the file had no header row and was read as a `wp_posts` dump.
    pub wp_posts_dump: bool,
}

impl CsvNotes {
    /// The lines the build report shows for this file.
    pub fn report_lines(&self) -> Vec<String> {
        let mut lines = vec![match self.delimiter {
            '\t' => "tab-separated".to_string(),
            ';' => "semicolon-separated".to_string(),
            _ => "comma-separated".to_string(),
        }];
        if self.utf16 {
            lines.push("decoded from UTF-16".into());
        }
        if self.wp_posts_dump {
            lines.push(format!(
                "no header row: read as a wp_posts table dump, columns in WordPress's order ({}); post_author holds user IDs",
                WP_POSTS_COLUMNS.join(", ")
            ));
        }
        if !self.ignored_columns.is_empty() {
            lines.push(format!(
                "ignored {} unknown column{}: {} (--strict-columns makes this an error)",
                self.ignored_columns.len(),
                if self.ignored_columns.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.ignored_columns.join(", ")
            ));
        }
        lines
    }

    /// The warning about fields that were not UTF-8, if any.
    pub fn encoding_warning(&self) -> Option<String> {
        if self.windows_1252_lines.is_empty() {
            return None;
        }
        let shown: Vec<String> = self
            .windows_1252_lines
            .iter()
            .take(10)
            .map(u64::to_string)
            .collect();
        let more = if self.windows_1252_lines.len() > 10 {
            ", ..."
        } else {
            ""
        };
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        Some(format!(
            "{} in {} not valid UTF-8, decoded as Windows-1252 (lines {}{more}): mixed encodings, check them",
            plural(self.windows_1252_fields, "field"),
            plural(self.windows_1252_lines.len(), "row"),
            shown.join(", ")
        ))
    }
}

/// Streams the rows of the CSV file at `path` into `sink`; returns the rows read and notes.
/// Unknown header columns are ignored and listed in the notes, or an error with
/// `strict_columns`.
pub fn read(
    path: &Path,
    strict_columns: bool,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(Post) -> anyhow::Result<()>,
) -> anyhow::Result<(usize, CsvNotes)> {
    let open_err = |e: std::io::Error| SourceError::new(path, None, format!("cannot open: {e}"));
    let mut file =
        BufReader::with_capacity(256 * 1024, std::fs::File::open(path).map_err(open_err)?);
    let head = file.fill_buf().map_err(open_err)?.to_vec();
    let mut notes = CsvNotes::default();

    // UTF-16 (with BOM) is decoded whole; everything else streams as bytes.
    let input: Box<dyn Read> = if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF])
    {
        notes.utf16 = true;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(open_err)?;
        let (text, _, _) = encoding_rs::UTF_16LE.decode(&bytes); // BOM sniffing picks LE/BE
        let text = text.into_owned();
        notes.delimiter = sniff_delimiter(text.as_bytes());
        Box::new(std::io::Cursor::new(text.into_bytes()))
    } else {
        notes.delimiter = sniff_delimiter(&head);
        Box::new(file)
    };

    // CRLF and LF rows alike (the csv crate's default terminator).
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(notes.delimiter as u8)
        .has_headers(false)
        .flexible(false)
        .from_reader(input);
    let delimiter_name = match notes.delimiter {
        '\t' => "tab",
        ';' => "semicolon",
        _ => "comma",
    };
    // With CRLF rows the csv crate counts a row's `\n` as part of the next row, so every row
    // after the first starts one line later than its position says.
    let crlf = {
        let head: &[u8] = &head;
        memchr::memchr(b'\n', head).is_some_and(|i| {
            // UTF-8, or UTF-16 (`\r\0\n\0`, `\0\r\0\n`)
            (i > 0 && head[i - 1] == b'\r') || (i > 1 && head[i - 1] == 0 && head[i - 2] == b'\r')
        })
    };
    let true_line = move |reported: u64, first_row: bool| {
        if crlf && !first_row {
            reported + 1
        } else {
            reported
        }
    };
    let csv_err = |e: ::csv::Error, rows: usize, last: &str| {
        let line = e
            .position()
            .map(|p| true_line(p.line(), p.record() == 0) as usize);
        let message = match e.kind() {
            ::csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "this row has {len} fields but the header has {expected_len}: a quote left open, \
                 or a {delimiter_name} inside an unquoted field"
            ),
            _ => format!("cannot read the CSV: {e}"),
        };
        let mut err = SourceError::new(path, line, message);
        err.read_so_far = if rows == 0 {
            "no row read before it".to_string()
        } else {
            format!("{rows} rows read before it, the last \"{last}\"")
        };
        err
    };

    let mut record = ::csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_err(e, 0, ""))?
    {
        return Err(SourceError::new(path, Some(1), "empty file: no header row").into());
    }
    let header = record.clone();
    let (columns, first_row_is_data) = match header_columns(&header, &mut notes) {
        Some(columns) => (columns, false),
        None if looks_like_wp_posts_row(&header) => {
            notes.wp_posts_dump = true;
            let columns = WP_POSTS_COLUMNS
                .iter()
                .map(|name| column_for(name).expect("wp_posts columns are known"))
                .collect();
            (columns, true)
        }
        None => {
            let found: Vec<String> = header
                .iter()
                .take(12)
                .map(|h| format!("{:?}", decode(h).0.trim()))
                .collect();
            let message = format!(
                "no content column in the first row (found: {}{}): name the columns in a header \
                 row, at least post_content (or Content/Body), and post_title, post_date, \
                 post_author, post_status, post_type as needed; a header-less wp_posts dump is \
                 recognised by its 23 standard columns",
                found.join(", "),
                if header.len() > 12 { ", ..." } else { "" }
            );
            return Err(SourceError::new(path, Some(1), message).into());
        }
    };
    if strict_columns && !notes.ignored_columns.is_empty() {
        let message = format!(
            "unknown column{} {}: rename to one of post_title, post_content, post_author, \
             post_date, post_status, post_type, post_name, tags, categories (or a known WordPress \
             column), or remove it; unknown columns are an error because of",
            if notes.ignored_columns.len() > 1 {
                "s"
            } else {
                ""
            },
            notes.ignored_columns.join(", ")
        );
        return Err(SourceError::new(path, Some(1), message)
            .needing(BuildField::StrictColumns)
            .into());
    }

    let mut rows = 0usize;
    let mut last_title = String::new();
    let mut pending = first_row_is_data.then_some(header);
    loop {
        let row = match pending.take() {
            Some(first) => first,
            None => match reader.read_byte_record(&mut record) {
                Ok(true) => record.clone(),
                Ok(false) => break,
                Err(e) => return Err(csv_err(e, rows, &last_title).into()),
            },
        };
        let line = row
            .position()
            .map_or(0, |p| true_line(p.line(), p.record() == 0));
        let mut post = Post::new(BodyFormat::Html);
        post.line = line as usize;
        let mut recoded = 0;
        for (field, column) in row.iter().zip(&columns) {
            if *column == Column::Ignored {
                continue;
            }
            let (text, was_1252) = decode(field);
            recoded += usize::from(was_1252);
            let text = text.into_owned();
            let some = |t: &str| (!t.trim().is_empty()).then(|| t.trim().to_string());
            match column {
                Column::Title => post.title = text.trim().to_string(),
                Column::Content => post.body = text.replace("\r\n", "\n"),
                Column::Author => post.author = some(&text),
                Column::AuthorDisplay => post.author_display = some(&text),
                Column::Date => post.date = parse_date(&text),
                Column::Status => post.status = some(&text),
                Column::Type => post.post_type = some(&text),
                Column::Slug => post.slug = text.trim().to_string(),
                Column::Tags => post.tags = split_terms(&text),
                Column::Categories => post.categories = split_terms(&text),
                Column::Ignored => {}
            }
        }
        if recoded > 0 {
            notes.windows_1252_lines.push(line);
            notes.windows_1252_fields += recoded;
        }
        rows += 1;
        last_title.clone_from(&post.title);
        sink(post)?;
        if rows.is_multiple_of(64) {
            progress(row.position().map_or(0, |p| p.byte()));
        }
    }
    Ok((rows, notes))
}

/// The columns named by a header row, or `None` when no column holds the post content (no
/// header row, or one the builder cannot use). Unknown names are noted and ignored.
fn header_columns(header: &::csv::ByteRecord, notes: &mut CsvNotes) -> Option<Vec<Column>> {
    let mut columns = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = decode(raw).0;
        match column_for(&name) {
            Some(c) => columns.push(c),
            None => {
                unknown.push(format!("{:?} (column {})", name.trim(), i + 1));
                columns.push(Column::Ignored);
            }
        }
    }
    if !columns.contains(&Column::Content) {
        return None;
    }
    notes.ignored_columns = unknown;
    Some(columns)
}

/// A first row that is data from a `wp_posts` table: 23 fields, a numeric ID and author, a
/// `YYYY-MM-DD hh:mm:ss` date.
fn looks_like_wp_posts_row(row: &::csv::ByteRecord) -> bool {
    let numeric = |i: usize| {
        row.get(i)
            .is_some_and(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
    };
    row.len() == WP_POSTS_COLUMNS.len()
        && numeric(0)
        && numeric(1)
        && row
            .get(2)
            .and_then(|f| std::str::from_utf8(f).ok())
            .is_some_and(|d| d.trim() == "0000-00-00 00:00:00" || parse_date(d).is_some())
}

/// UTF-8 when valid, else Windows-1252 (the usual culprit in hand-edited exports).
fn decode(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.into(), false),
        Err(_) => (
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0,
            true,
        ),
    }
}

/// Terms as exported: `a|b|c` (WP All Export) or `a, b, c`.
fn split_terms(text: &str) -> Vec<String> {
    let sep = if text.contains('|') { '|' } else { ',' };
    text.split(sep)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// The most frequent of tab, semicolon and comma on the first line (outside quotes); comma on
/// a tie.
fn sniff_delimiter(head: &[u8]) -> char {
    let (mut tabs, mut semicolons, mut commas, mut quoted) = (0, 0, 0, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b'\t' if !quoted => tabs += 1,
            b';' if !quoted => semicolons += 1,
            b',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if tabs > commas && tabs >= semicolons {
        '\t'
    } else if semicolons > commas {
        ';'
    } else {
        ','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter(b"a,b;c\n"), ',');
        assert_eq!(sniff_delimiter(b"title;content;date\n"), ';');
        assert_eq!(sniff_delimiter(b"title\tcontent\t\"x,y,z\"\n"), '\t');
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d\n"), ',');
    }

    #[test]
    fn header_aliases() {
        for (name, column) in [
            ("Title", Column::Title),
            ("Content", Column::Content),
            ("Post Type", Column::Type),
            ("POST_DATE", Column::Date),
            ("Permlink", Column::Ignored),
            ("Categories", Column::Categories),
            ("\u{feff}post_title", Column::Title),
        ] {
            assert_eq!(column_for(name), Some(column), "{name}");
        }
        assert_eq!(column_for("thumbnail"), None);
    }
}
