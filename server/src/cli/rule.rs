//! `voicetune rule`: every rule in a table, or one rule's documentation.

use std::process::ExitCode;
use voicetune::lint;

#[derive(clap::Args)]
pub struct RuleArgs {
    /// Rule name or code; omit to list every rule.
    pub name: Option<String>,
}

pub(crate) fn run(args: &RuleArgs) -> anyhow::Result<ExitCode> {
    match args.name.as_deref() {
        None => {
            for rule in lint::all_rules() {
                let fix = if rule.fixable { "fix" } else { "   " };
                println!(
                    "{} {:<26} {:<8} {fix}  {}",
                    rule.code,
                    rule.name,
                    rule.severity.label(),
                    rule.summary
                );
            }
        }
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
