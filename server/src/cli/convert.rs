//! `voicetune convert IN -o OUT`: records in other shapes to OpenAI chat or preference JSONL.
//! Exit status 0 when every record converted, 1 when some were skipped (each listed with its
//! record number and reason), 2 on errors (unreadable input, nothing converted).

use std::path::PathBuf;
use std::process::ExitCode;
use voicetune::dataset::convert::{convert_text, parse_map, ConvertOptions};
use voicetune::dataset::FileKind;

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The input: JSONL, or a .json array of records.
    pub input: PathBuf,
    /// The chat (or preference) JSONL to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// FIELD=ROLE, repeatable: read FIELD as the ROLE's message (system, user, assistant) or
    /// preference side (chosen, rejected), e.g. `--map question=user --map answer=assistant`.
    #[arg(long = "map", value_name = "FIELD=ROLE")]
    pub map: Vec<String>,
    /// A system message for records that have none.
    #[arg(long)]
    pub system: Option<String>,
}

pub(crate) fn run(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    let map = args
        .map
        .iter()
        .map(|m| parse_map(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let opts = ConvertOptions {
        map,
        system: args.system.clone(),
    };
    let input = args.input.display();
    let bytes = std::fs::read(&args.input).map_err(|e| anyhow::anyhow!("{input}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{input}: not UTF-8 (byte {}); re-save the file as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    let json_array = FileKind::from_path(&args.input) == Some(FileKind::Json);
    let converted =
        convert_text(&text, json_array, &opts).map_err(|e| anyhow::anyhow!("{input}: {e}"))?;
    let unit = if json_array { "record" } else { "line" };
    for (number, reason) in &converted.skipped {
        eprintln!("{input}: {unit} {number}: skipped: {reason}");
    }
    if converted.lines.is_empty() {
        anyhow::bail!(
            "{input}: no record converted ({} skipped); name the fields with --map FIELD=ROLE",
            converted.skipped.len()
        );
    }
    let mut out = converted.lines.join("\n");
    out.push('\n');
    voicetune::fsutil::write_atomic(&args.output, out.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.output.display()))?;
    let shapes: Vec<String> = converted
        .shapes
        .iter()
        .map(|(shape, n)| format!("{n} {shape}"))
        .collect();
    println!(
        "{}: {} records written ({}); {} skipped",
        args.output.display(),
        converted.lines.len(),
        shapes.join(", "),
        converted.skipped.len()
    );
    Ok(if converted.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
