//! WordPress CSV exports (WP All Export, phpMyAdmin dumps of `wp_posts`, spreadsheet exports):
//! comma- or tab-separated, headers mapped to post fields, streamed row by row.
//!
//! Fields that are not valid UTF-8 (a spreadsheet saved as Windows-1252 in the middle of a UTF-8
//! file) are decoded as Windows-1252 and reported; a UTF-16 file (Excel's "Unicode text") is
//! decoded whole. Columns that are neither mapped nor known WordPress columns are an error, so a
//! mis-mapped export never silently trains on the wrong column.

use super::filters::parse_date;
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
        "post_title" | "title" => Column::Title,
        "post_content" | "content" | "body" => Column::Content,
        "post_author" | "author" | "author_login" | "author_username" | "user_login" => {
            Column::Author
        }
        "author_display_name" | "display_name" | "author_name" => Column::AuthorDisplay,
        "post_date" | "date" => Column::Date,
        "post_status" | "status" => Column::Status,
        "post_type" | "type" => Column::Type,
        "post_name" | "slug" => Column::Slug,
        "tags" | "post_tag" | "post_tags" => Column::Tags,
        "categories" | "category" | "post_category" => Column::Categories,
        "id"
        | "post_id"
        | "post_excerpt"
        | "excerpt"
        | "guid"
        | "permalink"
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

/// What the reader noticed that the report should mention.
#[derive(Debug, Default, Clone)]
pub struct CsvNotes {
    pub delimiter: char,
    /// Lines whose fields were not valid UTF-8 and were decoded as Windows-1252.
    pub windows_1252_lines: Vec<u64>,
    /// Set when the whole file was UTF-16.
    pub utf16: bool,
}

/// Streams the rows of the CSV file at `path` into `sink`; returns the rows read and notes.
pub fn read(
    path: &Path,
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

    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(notes.delimiter as u8)
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let csv_err = |e: ::csv::Error, rows: usize, last: &str| {
        let line = e.position().map(|p| p.line() as usize);
        let message =
            match e.kind() {
                ::csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!(
                "this row has {len} fields but the header has {expected_len}: a quote left open, \
                 or a {} inside an unquoted field",
                if notes.delimiter == '\t' { "tab" } else { "comma" }
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

    let headers = reader
        .byte_headers()
        .map_err(|e| csv_err(e, 0, ""))?
        .clone();
    let mut columns = Vec::with_capacity(headers.len());
    let mut unknown = Vec::new();
    for (i, raw) in headers.iter().enumerate() {
        let name = decode(raw).0;
        match column_for(&name) {
            Some(c) => columns.push(c),
            None => {
                unknown.push(format!("{:?} (column {})", name.trim(), i + 1));
                columns.push(Column::Ignored);
            }
        }
    }
    if !unknown.is_empty() {
        let message = format!(
            "unknown column{} {}: rename to one of post_title, post_content, post_author, post_date, \
             post_status, post_type, post_name, tags, categories (or a known WordPress column), or remove it",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", ")
        );
        return Err(SourceError::new(path, Some(1), message).into());
    }
    if !columns.contains(&Column::Content) {
        let found: Vec<String> = headers
            .iter()
            .map(|h| decode(h).0.trim().to_string())
            .collect();
        let message = format!("no post_content column (found: {})", found.join(", "));
        return Err(SourceError::new(path, Some(1), message).into());
    }

    let mut record = ::csv::ByteRecord::new();
    let mut rows = 0usize;
    let mut last_title = String::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e, rows, &last_title).into()),
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut post = Post::new(BodyFormat::Html);
        post.line = line as usize;
        let mut recoded = false;
        for (field, column) in record.iter().zip(&columns) {
            if *column == Column::Ignored {
                continue;
            }
            let (text, was_1252) = decode(field);
            recoded |= was_1252;
            let text = text.into_owned();
            let some = |t: &str| (!t.trim().is_empty()).then(|| t.trim().to_string());
            match column {
                Column::Title => post.title = text.trim().to_string(),
                Column::Content => post.body = text,
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
        if recoded {
            notes.windows_1252_lines.push(line);
        }
        rows += 1;
        last_title.clone_from(&post.title);
        sink(post)?;
        if rows.is_multiple_of(64) {
            progress(record.position().map_or(0, |p| p.byte()));
        }
    }
    Ok((rows, notes))
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

/// Tab when the header line has more tabs than commas (outside quotes), else comma.
fn sniff_delimiter(head: &[u8]) -> char {
    let (mut tabs, mut commas, mut quoted) = (0, 0, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b'\t' if !quoted => tabs += 1,
            b',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if tabs > commas {
        '\t'
    } else {
        ','
    }
}
