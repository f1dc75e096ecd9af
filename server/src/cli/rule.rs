//! `voicetune rule`: every rule in a table, or one rule's documentation.

use clap::ValueEnum;
use std::process::ExitCode;
use voicetune::lint;

#[derive(clap::Args)]
pub struct RuleArgs {
    /// Rule name or code; omit to list every rule.
    pub name: Option<String>,
    /// List every rule (the default without a name).
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
    /// How to print the list: text, or the markdown table of the README.
    #[arg(long, value_enum, default_value = "text", conflicts_with = "name")]
    pub format: RuleListFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleListFormat {
    Text,
    Markdown,
}

pub(crate) fn run(args: &RuleArgs) -> anyhow::Result<ExitCode> {
    match args.name.as_deref() {
        None => match args.format {
            RuleListFormat::Text => print!("{}", lint::rules_listing()),
            RuleListFormat::Markdown => print!("{}", lint::rules_table_markdown()),
        },
        Some(name) => {
            let rule = lint::rule_by_name(name).ok_or_else(|| {
                anyhow::anyhow!("unknown rule {name:?}; `voicetune rule` lists them")
            })?;
            println!(
                "{} {} ({}, {})\n\n{}\n",
                rule.code,
                rule.name,
                rule.severity.label(),
                if rule.fixable {
                    "fixable"
                } else {
                    "no automatic fix"
                },
                rule.summary
            );
            println!("{}", textwrap(rule.doc, 88));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn textwrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}
