//! The report of a bake-off: a self-contained HTML page (inline CSS and SVG, nothing fetched),
//! its markdown twin, a JSON file with every number, and the terminal summary.

use super::leaks::Leak;
use super::{CompareRequest, Report, VoiceScores};
use anyhow::{Context, Result};
use std::fmt::Write;

/// One paragraph per score, shown in the HTML and the markdown.
pub const EXPLANATIONS: &[(&str, &str)] = &[
    (
        "Perplexity",
        "How surprised the voice is by the author's real held-out texts, given their prompts: \
         the exponential of the mean negative log-likelihood per token (f32 model, as \
         `voicetune eval`). Lower means the model expects what the author actually wrote. \
         Measured for local voices only; a chat-completions API does not give the probability \
         of a text it did not write, so remote voices show n/a.",
    ),
    (
        "Cosine Delta and Burrows' Delta",
        "Stylometric distance between everything the voice wrote and the author's held-out \
         texts, over the most frequent words of all texts (mostly function words, which carry \
         habit rather than topic). Each text's word rates become z-scores; Burrows' Delta \
         (Burrows 2002) is the mean absolute difference of the two z-score profiles, Cosine \
         Delta (Smith & Aldridge 2011) is one minus their cosine, the variant Evert et al. \
         (2017) found most reliable. 0 is the author's own profile; lower is closer. The z-scores \
         come from the texts of this report (there is no outside reference corpus), so compare \
         voices within one report rather than numbers across reports.",
    ),
    (
        "Style profile",
        "The habits behind the distance: function words per 1,000 words, words per sentence \
         and per paragraph (mean ± standard deviation), vocabulary richness as the \
         moving-average type-token ratio over 100-word windows (MATTR, Covington & McFall \
         2010; low values mean repetition), and punctuation per 1,000 words. Compare each \
         voice's row with the author's.",
    ),
    (
        "Leaks",
        "Junk from the training data showing up in what the voice writes: HTML, URLs, e-mail \
         addresses, phone numbers and boilerplate lines (found by the linter's own rules), \
         openings or closings repeated across several training texts, passages of 12 or more \
         words copied in a row from the training file, loops (30% or more repeated 4-word \
         phrases) and empty answers. Answers cut off at the token limit are shown but not \
         counted, since every voice meets the same limit. The author's row is the baseline: \
         what the held-out texts themselves contain.",
    ),
    (
        "Cost and speed",
        "Cost is USD per 1,000 generated tokens from the project's price table (0 for local \
         voices, n/a for an endpoint of unknown price). First token is the median time from \
         the request to the first token; tokens/s is the decoding rate after it. Local \
         figures depend on the machine and its load.",
    ),
];

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn cost(v: &VoiceScores) -> String {
    v.usd_per_1000_tokens
        .map_or("n/a".into(), |c| format!("${c:.4}"))
}

/// A column of the score table: its header, a voice's cell, the author's cell.
type Column = (&'static str, Box<dyn Fn(&VoiceScores) -> String>, String);

/// The score table's columns.
fn columns() -> Vec<Column> {
    vec![
        (
            "perplexity",
            Box::new(|v: &VoiceScores| fmt_opt(v.perplexity.as_ref().map(|p| p.perplexity), 2)),
            "-".into(),
        ),
        (
            "cosine Delta",
            Box::new(|v: &VoiceScores| format!("{:.3}", v.delta.cosine)),
            "0".into(),
        ),
        (
            "Burrows' Delta",
            Box::new(|v: &VoiceScores| format!("{:.3}", v.delta.burrows)),
            "0".into(),
        ),
        (
            "leaks",
            Box::new(|v: &VoiceScores| v.leaks.total.to_string()),
            String::new(),
        ),
        (
            "leaks / text",
            Box::new(|v: &VoiceScores| format!("{:.2}", v.leaks.per_text)),
            String::new(),
        ),
        (
            "longest copy (words)",
            Box::new(|v: &VoiceScores| v.longest_copy_words.to_string()),
            "-".into(),
        ),
        ("cost / 1k tokens", Box::new(cost), "-".into()),
        (
            "first token (s)",
            Box::new(|v: &VoiceScores| format!("{:.2}", v.first_token_secs)),
            "-".into(),
        ),
        (
            "tokens/s",
            Box::new(|v: &VoiceScores| format!("{:.1}", v.tokens_per_sec)),
            "-".into(),
        ),
    ]
}

fn score_table(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let cols = columns();
    let mut header = vec!["voice".to_string()];
    header.extend(cols.iter().map(|(h, _, _)| h.to_string()));
    let voice = |v: &VoiceScores| {
        let mut row = vec![v.name.clone()];
        row.extend(cols.iter().map(|(_, f, _)| f(v)));
        row
    };
    let author = || {
        let mut row = vec!["author (held-out)".to_string()];
        row.extend(cols.iter().map(|(h, _, a)| match *h {
            "leaks" => report.author.leaks.total.to_string(),
            "leaks / text" => format!("{:.2}", report.author.leaks.per_text),
            _ => a.clone(),
        }));
        row
    };
    (header, with_author(report, voice, author))
}

fn profile_table(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "voice",
        "words",
        "function words / 1k",
        "words / sentence",
        "words / paragraph",
        "MATTR",
        "TTR",
        "punctuation / 1k",
    ]
    .map(String::from)
    .to_vec();
    let row = |name: &str, p: &super::profile::Profile| {
        let punct: Vec<String> = p
            .punctuation_per_1000
            .iter()
            .filter(|(_, v)| **v >= 1.0)
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect();
        vec![
            name.to_string(),
            p.words.to_string(),
            format!("{:.0}", p.function_words_per_1000),
            format!("{:.1} ± {:.1}", p.sentence_words.mean, p.sentence_words.sd),
            format!(
                "{:.1} ± {:.1}",
                p.paragraph_words.mean, p.paragraph_words.sd
            ),
            format!("{:.3}", p.mattr),
            format!("{:.3}", p.type_token_ratio),
            punct.join(" "),
        ]
    };
    let rows = with_author(
        report,
        |v| row(&v.name, &v.profile),
        || row("author (held-out)", &report.author.profile),
    );
    (header, rows)
}

/// A row per voice, then the author's.
fn with_author(
    report: &Report,
    voice: impl Fn(&VoiceScores) -> Vec<String>,
    author: impl FnOnce() -> Vec<String>,
) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = report.voices.iter().map(voice).collect();
    rows.push(author());
    rows
}

fn leak_table(report: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["voice".to_string()];
    header.extend(
        super::leaks::LeakKind::ALL
            .iter()
            .map(|k| k.name().to_string()),
    );
    let row = |name: &str, c: &super::LeakCounts| {
        let mut r = vec![name.to_string()];
        r.extend(
            super::leaks::LeakKind::ALL
                .iter()
                .map(|k| c.count(*k).to_string()),
        );
        r
    };
    let rows = with_author(
        report,
        |v| row(&v.name, &v.leaks),
        || row("author (held-out)", &report.author.leaks),
    );
    (header, rows)
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn html_table(id: &str, (header, rows): (Vec<String>, Vec<Vec<String>>)) -> String {
    let mut s = format!("<table id=\"{id}\"><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(&h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let _ = write!(s, "<td>{}</td>", esc(&cell));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// A bar chart of the headline scores, one panel each: cosine Delta, perplexity, leaks per
/// text (lower is better in all three).
pub fn chart_svg(report: &Report) -> String {
    type Bars = Vec<(String, Option<f64>)>;
    let panels: Vec<(&str, Bars)> = vec![
        (
            "Cosine Delta (lower = closer to the author)",
            report
                .voices
                .iter()
                .map(|v| (v.name.clone(), Some(v.delta.cosine)))
                .collect(),
        ),
        (
            "Perplexity (lower = closer to the author)",
            report
                .voices
                .iter()
                .map(|v| (v.name.clone(), v.perplexity.as_ref().map(|p| p.perplexity)))
                .collect(),
        ),
        (
            "Leaks per text (lower = cleaner)",
            report
                .voices
                .iter()
                .map(|v| (v.name.clone(), Some(v.leaks.per_text)))
                .chain(std::iter::once((
                    "author".to_string(),
                    Some(report.author.leaks.per_text),
                )))
                .collect(),
        ),
    ];
    let (label_w, bar_w, row_h, panel_w) = (110.0, 160.0, 22.0, 340.0);
    let rows = panels.iter().map(|(_, b)| b.len()).max().unwrap_or(1) as f64;
    let height = 40.0 + rows * row_h + 10.0;
    let width = panel_w * panels.len() as f64;
    let mut s = format!(
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"scores by voice\">"
    );
    const COLOURS: &[&str] = &[
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
    ];
    for (p, (title, bars)) in panels.iter().enumerate() {
        let x0 = p as f64 * panel_w + 5.0;
        let _ = write!(
            s,
            "<text x=\"{x0}\" y=\"16\" class=\"title\">{}</text>",
            esc(title)
        );
        let max = bars.iter().filter_map(|(_, v)| *v).fold(0.0f64, f64::max);
        for (i, (name, value)) in bars.iter().enumerate() {
            let y = 30.0 + i as f64 * row_h;
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                x0 + label_w - 6.0,
                y + 13.0,
                esc(name)
            );
            match value {
                Some(v) => {
                    let w = if max > 0.0 { v / max * bar_w } else { 0.0 };
                    let colour = if name == "author" {
                        "#999"
                    } else {
                        COLOURS[i % COLOURS.len()]
                    };
                    let _ = write!(
                        s,
                        "<rect class=\"bar\" x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{v:.3}</text>",
                        x0 + label_w,
                        row_h - 6.0,
                        x0 + label_w + w + 4.0,
                        y + 13.0
                    );
                }
                None => {
                    let _ = write!(
                        s,
                        "<text x=\"{}\" y=\"{}\" class=\"na\">n/a</text>",
                        x0 + label_w,
                        y + 13.0
                    );
                }
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// `text` as HTML with each leak marked (overlapping spans merged).
pub fn highlight(text: &str, leaks: &[Leak]) -> String {
    let mut spans: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut sorted: Vec<&Leak> = leaks.iter().filter(|l| l.span.start < l.span.end).collect();
    sorted.sort_by_key(|l| l.span.start);
    for l in sorted {
        let (start, end) = (l.span.start.min(text.len()), l.span.end.min(text.len()));
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        let note = format!("{}: {}", l.kind.name(), l.detail);
        match spans.last_mut() {
            Some(last) if start < last.1 => {
                last.1 = last.1.max(end);
                last.2.push(note);
            }
            _ => spans.push((start, end, vec![note])),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    for (start, end, notes) in spans {
        out.push_str(&esc(&text[at..start]));
        let _ = write!(
            out,
            "<mark title=\"{}\">{}</mark>",
            html_escape::encode_double_quoted_attribute(&notes.join("; ")),
            esc(&text[start..end])
        );
        at = end;
    }
    out.push_str(&esc(&text[at..]));
    out
}

const CSS: &str =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}\
th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}\
svg text{font:12px system-ui,sans-serif}svg .title{font-weight:600}svg .na{fill:#888}\
.side{display:grid;gap:8px;margin:6px 0 20px}.side>div{border:1px solid #ddd;padding:6px 8px;\
white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px}.side h4{margin:0 0 4px;font-size:13px}\
.author{background:#f7f7f2}mark{background:#ffd5d5;border-bottom:2px solid #d33}\
.prompt{color:#555}dt{font-weight:600;margin-top:8px}dd{margin-left:0}";

/// The sampling settings in words.
fn sampling(s: &super::Settings) -> String {
    format!(
        "temperature {}, top-p {}, top-k {}, repetition penalty {}, no repeated {}-gram, seed {}, at most {} tokens",
        s.temperature, s.top_p, s.top_k, s.repetition_penalty, s.no_repeat_ngram, s.seed, s.max_tokens
    )
}

/// The HTML report.
pub fn html(report: &Report) -> String {
    let s = &report.settings;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>voicetune compare</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>Which voice sounds most like the author?</h1><p>{} held-out prompts from <code>{}</code>{}; every voice sampled with {}.</p>",
        s.prompts,
        esc(&s.heldout.display().to_string()),
        s.train
            .as_ref()
            .map(|t| format!(", training file <code>{}</code>", esc(&t.display().to_string())))
            .unwrap_or_default(),
        sampling(s)
    );
    h.push_str("<h2>Scores</h2>");
    h.push_str(&html_table("scores", score_table(report)));
    h.push_str(&chart_svg(report));
    h.push_str("<h2>What the scores mean</h2><dl>");
    for (name, text) in EXPLANATIONS {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(text));
    }
    h.push_str("</dl><h2>Style profile</h2>");
    h.push_str(&html_table("profile", profile_table(report)));
    h.push_str("<h2>Leaks by kind</h2>");
    h.push_str(&html_table("leaks", leak_table(report)));
    h.push_str("<h2>Side by side</h2>");
    let columns = report.voices.len() + 1;
    for row in &report.rows {
        let _ = write!(
            h,
            "<h3>Line {}</h3><p class=\"prompt\">{}</p><div class=\"side\" style=\"grid-template-columns:repeat({columns},minmax(0,1fr))\"><div class=\"author\"><h4>author</h4>{}</div>",
            row.example.line,
            esc(row.example.question()),
            highlight(&row.example.reference, &row.reference_leaks)
        );
        for a in &row.answers {
            let _ = write!(
                h,
                "<div><h4>{} <small>({} tokens, {})</small></h4>{}</div>",
                esc(&a.voice),
                a.output.tokens,
                esc(&a.output.finish),
                highlight(&a.output.text, &a.leaks)
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</body></html>\n");
    h
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, (header, rows): (Vec<String>, Vec<Vec<String>>)) {
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter()
                .map(|c| md_cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    out.push('\n');
}

fn quote(text: &str) -> String {
    if text.trim().is_empty() {
        return "> (empty)\n".into();
    }
    text.lines().map(|l| format!("> {l}\n")).collect()
}

/// The markdown twin of the HTML report.
pub fn markdown(report: &Report) -> String {
    let s = &report.settings;
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# Which voice sounds most like the author?\n\n{} held-out prompts from `{}`; every voice sampled with {}.\n",
        s.prompts,
        s.heldout.display(),
        sampling(s)
    );
    m.push_str("## Scores\n\n");
    md_table(&mut m, score_table(report));
    m.push_str("## What the scores mean\n\n");
    for (name, text) in EXPLANATIONS {
        let _ = writeln!(m, "**{name}.** {text}\n");
    }
    m.push_str("## Style profile\n\n");
    md_table(&mut m, profile_table(report));
    m.push_str("## Leaks by kind\n\n");
    md_table(&mut m, leak_table(report));
    m.push_str("## Side by side\n\n");
    for row in &report.rows {
        let _ = writeln!(
            m,
            "### Line {}: {}\n\n**author**\n\n{}",
            row.example.line,
            md_cell(row.example.question()),
            quote(&row.example.reference)
        );
        for a in &row.answers {
            let _ = writeln!(
                m,
                "**{}** ({} tokens, {})\n\n{}",
                a.voice,
                a.output.tokens,
                a.output.finish,
                quote(&a.output.text)
            );
            for l in &a.leaks {
                let _ = writeln!(
                    m,
                    "- {}: {} (`{}`)",
                    l.kind.name(),
                    l.detail,
                    md_cell(a.output.text.get(l.span.clone()).unwrap_or(""))
                );
            }
            if !a.leaks.is_empty() {
                m.push('\n');
            }
        }
    }
    m
}

/// The summary printed on the terminal.
pub fn summary(report: &Report) -> String {
    let (header, rows) = score_table(report);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(&header) + "\n";
    for row in &rows {
        out += &(line(row) + "\n");
    }
    out
}

/// Writes the HTML, markdown and JSON files (each atomically).
pub fn write_all(report: &Report, request: &CompareRequest) -> Result<()> {
    let write = |path: &std::path::Path, bytes: &[u8]| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
        }
        crate::fsutil::write_atomic(path, bytes)
            .with_context(|| format!("{}: cannot write the report", path.display()))
    };
    write(&request.output, html(report).as_bytes())?;
    write(&request.markdown_path(), markdown(report).as_bytes())?;
    write(&request.json_path(), &serde_json::to_vec_pretty(report)?)?;
    Ok(())
}
