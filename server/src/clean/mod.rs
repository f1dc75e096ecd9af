//! Text cleaning: ONE implementation shared by the lint fixes and the dataset builder, so the
//! builder's output and the linter can never disagree about what "clean" means.
//!
//! Detection patterns are public so lint rules find exactly what the cleaners remove.
//! html2text's traps, measured on 0.17: its default and plain configs keep link URLs as footnotes
//! (the way URLs leak into a voice), the plain decorator leaves brackets around anchor text, and
//! the width argument hard-wraps paragraphs; so we render with the trivial decorator at a huge
//! width, and remove bare URLs and shortcodes, which it passes through, in steps of our own.
//!
//! Layout: `post` is the pipeline ([`clean_post`], [`clean_title`]); `html`, `markdown`,
//! `shortcodes` and `transcript` hold each source format's steps, `text` the patterns and steps
//! they share. Everything public is re-exported here.

mod html;
mod markdown;
mod post;
mod shortcodes;
mod text;
mod transcript;

pub use html::{
    autop, decode_entities, html_to_text, is_html_document, simple_paragraphs_to_text, HTML_ENTITY,
    HTML_TAG,
};
pub use markdown::{markdown_links_to_text, AUTOLINK, LINK_DEFINITION, MARKDOWN_LINK};
pub use post::{clean_post, clean_title, CleanStats, SourceFormat};
pub use shortcodes::remove_shortcodes;
pub use text::{
    is_boilerplate_line, is_invisible, normalize_blank_lines, removal_range, remove_bare_urls,
    url_spans, BARE_URL, EMAIL, PHONE,
};
pub use transcript::{
    remove_transcript_artefacts, remove_transcript_noise, strip_line_timestamp,
    TRANSCRIPT_ARTEFACT, TRANSCRIPT_NOISE,
};
