//! Every rule, listed once: its metadata in the order of the README table, and each check in
//! the list of its shape, in the order the engine runs them.

use super::rule::{DatasetRule, RecordRule, TextRule};
use super::rules::{
    boilerplate, dataset_size, duplicates, field_types, html, keys, legacy, markdown_links,
    mixed_formats, near_duplicates, pii, preference, repetition, roles, shapes, syntax, templated,
    tokens, transcript, urls, weight, whitespace,
};
use super::types::RuleInfo;

/// Every rule's metadata, in the order of the README table and `voicetune rule --list`.
pub static RULES: &[&RuleInfo] = &[
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
    &field_types::FIELD_TYPE,
    &field_types::INVALID_IMAGE,
    &weight::INVALID_WEIGHT,
    &preference::PREFERENCE_STRUCTURE,
    &preference::IDENTICAL_PREFERENCE,
    &mixed_formats::MIXED_FORMATS,
    &shapes::OTHER_SHAPE,
    &html::HTML,
    &urls::URL,
    &markdown_links::MARKDOWN_LINK,
    &pii::EMAIL,
    &pii::PHONE,
    &transcript::TRANSCRIPT,
    &boilerplate::BOILERPLATE,
    &repetition::REPETITION,
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

/// Checks over each non-empty text field, in this order.
pub static TEXT_RULES: &[&dyn TextRule] = &[
    &html::Html,
    &urls::Urls,
    &markdown_links::MarkdownLinks,
    &pii::PersonalData,
    &transcript::Transcript,
    &boilerplate::Boilerplate,
    &repetition::Repetition,
    &whitespace::Whitespace,
];

/// Checks over each record, in this order within their stage.
pub static RECORD_RULES: &[&dyn RecordRule] = &[
    &keys::Keys,
    &roles::ChatMessages,
    &legacy::PromptCompletion,
    &preference::PreferencePair,
    &shapes::ForeignShape,
    &weight::Weights,
    &field_types::FieldTypes,
    &tokens::TokenCount,
];

/// Checks over the whole dataset; their findings are concatenated in this order.
pub static DATASET_RULES: &[&dyn DatasetRule] = &[
    &mixed_formats::MixedFormats,
    &shapes::Shapes,
    &duplicates::Duplicates,
    &near_duplicates::NearDuplicates,
    &templated::Templated,
    &legacy::Conventions,
    &syntax::BlankLines,
    &dataset_size::DatasetSize,
];

/// Rules the readers report themselves (a line that does not parse, a file's encoding), before
/// any record exists to check.
pub static READER_RULES: &[&RuleInfo] = &[
    &syntax::INVALID_JSON,
    &syntax::NOT_AN_OBJECT,
    &syntax::INVALID_UTF8,
    &syntax::BOM,
];

/// Every rule, in the order of the README table.
pub fn all_rules() -> &'static [&'static RuleInfo] {
    RULES
}

/// Finds a rule by name (`html`) or code (`VT101`), case-insensitively.
pub fn rule_by_name(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().copied().find(|r| r.is_named(name))
}

impl super::types::Finding {
    pub fn rule_info(&self) -> Option<&'static RuleInfo> {
        rule_by_name(&self.code)
    }
}

/// One line per rule: code, name, default severity, `fix` when fixable, summary (the listing of
/// `voicetune rule --list`).
pub fn rules_listing() -> String {
    RULES
        .iter()
        .map(|rule| {
            let fix = if rule.fixable { "fix" } else { "   " };
            format!(
                "{} {:<26} {:<8} {fix}  {}\n",
                rule.code,
                rule.name,
                rule.severity.label(),
                rule.summary
            )
        })
        .collect()
}

/// The rules table of the README, as markdown (`voicetune rule --list --format markdown`).
pub fn rules_table_markdown() -> String {
    let mut table =
        String::from("| code | rule | default | fix | what it finds |\n|---|---|---|---|---|\n");
    for rule in RULES {
        table.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            rule.code,
            rule.name,
            rule.severity.label(),
            if rule.fixable { "yes" } else { "" },
            rule.summary
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rule's findings come from exactly one place: a check of one shape, or a reader. A
    /// rule may be reported by more than one check only where the checks share its meaning
    /// (a structural `missing-key` or `empty-content` found in several record shapes).
    #[test]
    fn every_rule_is_reported_by_a_check() {
        let reported: Vec<&RuleInfo> = TEXT_RULES
            .iter()
            .flat_map(|r| r.rules())
            .chain(RECORD_RULES.iter().flat_map(|r| r.rules()))
            .chain(DATASET_RULES.iter().flat_map(|r| r.rules()))
            .chain(READER_RULES)
            .copied()
            .collect();
        for rule in RULES {
            assert!(
                reported.iter().any(|r| r.code == rule.code),
                "{} is in no check's list",
                rule.name
            );
        }
        for rule in &reported {
            assert!(RULES.iter().any(|r| r.code == rule.code), "{}", rule.name);
        }
    }

    #[test]
    fn codes_and_names_are_unique() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(
                    a.code != b.code && a.name != b.name,
                    "{} / {}",
                    a.name,
                    b.name
                );
            }
        }
    }
}
