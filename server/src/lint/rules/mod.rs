//! The rules. Each module holds one rule (or a small family that shares one check, such as the
//! role rules over a message list) with its [`RuleInfo`] doc.

pub mod boilerplate;
pub mod dataset_size;
pub mod duplicates;
pub mod html;
pub mod keys;
pub mod legacy;
pub mod markdown;
pub mod markdown_links;
pub mod mixed_formats;
pub mod near_duplicates;
pub mod pii;
pub mod preference;
pub mod roles;
pub mod syntax;
pub mod templated;
pub mod tokens;
pub mod transcript;
pub mod urls;
pub mod weight;
pub mod whitespace;

use super::text::TextField;
use super::{Finding, LintOptions, RuleInfo};
pub use crate::hashkey::HashKeyMap;

pub static ALL: &[&RuleInfo] = &[
    &syntax::INVALID_JSON,
    &syntax::NOT_AN_OBJECT,
    &syntax::INVALID_UTF8,
    &syntax::BOM,
    &syntax::BLANK_LINE,
    &keys::MISSING_KEY,
    &keys::UNKNOWN_KEY,
    &roles::INVALID_ROLE,
    &roles::ROLE_ORDER,
    &roles::MISSING_ASSISTANT,
    &roles::EMPTY_CONTENT,
    &weight::INVALID_WEIGHT,
    &preference::PREFERENCE_STRUCTURE,
    &preference::IDENTICAL_PREFERENCE,
    &mixed_formats::MIXED_FORMATS,
    &html::HTML,
    &urls::URL,
    &markdown_links::MARKDOWN_LINK,
    &pii::EMAIL,
    &pii::PHONE,
    &transcript::TRANSCRIPT,
    &boilerplate::BOILERPLATE,
    &whitespace::WHITESPACE,
    &legacy::MISSING_SEPARATOR,
    &legacy::SEPARATOR_IN_PROMPT,
    &legacy::COMPLETION_LEADING_SPACE,
    &legacy::MISSING_STOP,
    &legacy::INCONSISTENT_SEPARATOR,
    &tokens::TOO_MANY_TOKENS,
    &tokens::TOO_FEW_TOKENS,
    &duplicates::DUPLICATE,
    &near_duplicates::NEAR_DUPLICATE,
    &templated::TEMPLATED,
    &dataset_size::DATASET_SIZE,
];

/// Runs the content rules over every text field.
pub fn check_text_fields(fields: &[TextField], opts: &LintOptions, out: &mut Vec<Finding>) {
    for field in fields {
        if field.text().is_empty() {
            continue;
        }
        html::check(field, opts, out);
        urls::check(field, opts, out);
        markdown_links::check(field, opts, out);
        pii::check(field, opts, out);
        transcript::check(field, opts, out);
        boilerplate::check(field, opts, out);
        whitespace::check(field, opts, out);
    }
}
