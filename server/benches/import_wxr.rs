//! Dataset builder throughput and memory on a generated WordPress export.
//!
//! `cargo bench --bench import_wxr` writes WXR files of 10 and 50 MB into a temp dir (classic
//! and block-editor posts with links, shortcodes, entities and code; pages, attachments, drafts;
//! two authors) and builds each in a child process of its own, so every run's peak RSS (VmHWM)
//! is its own. Two selections per size: every post kept, and one author's posts from one year
//! (about 5%) kept. Memory should not grow with the number of posts beyond the kept output.
//!
//! `cargo bench --bench import_wxr -- --one FILE all|few` runs a single build and prints one
//! line (used by the parent).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use voicetune::config::Config;
use voicetune::import::{self, BuildConfig, BuildOptions, SourceSpec};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "walk",
    "morning",
    "river",
    "coffee",
    "city",
    "garden",
    "letter",
    "train",
    "window",
    "rain",
    "bridge",
    "bakery",
    "notebook",
    "quiet",
    "street",
    "light",
    "winter",
    "summer",
    "friend",
    "idea",
    "habit",
    "map",
    "road",
    "music",
    "kitchen",
    "market",
    "story",
    "question",
    "answer",
    "evening",
    "canal",
    "bicycle",
    "library",
    "desk",
    "paper",
    "voice",
    "moment",
    "weekend",
    "season",
    "neighbour",
    "corner",
    "chair",
    "coat",
    "umbrella",
    "boots",
    "path",
];
const GLUE: &[&str] = &[
    "and", "but", "because", "so", "while", "after", "before", "when", "although", "until", "the",
    "a", "my", "our", "every", "that", "this", "with", "without", "under", "over", "near",
    "beside", "through",
];

fn sentence(rng: &mut Rng) -> String {
    let n = 8 + rng.below(14);
    let mut words: Vec<&str> = Vec::with_capacity(n);
    for i in 0..n {
        words.push(if i % 2 == 0 {
            WORDS[rng.below(WORDS.len())]
        } else {
            GLUE[rng.below(GLUE.len())]
        });
    }
    let mut s = words.join(" ");
    s[..1].make_ascii_uppercase();
    s.push('.');
    s
}

fn paragraph(rng: &mut Rng) -> String {
    (0..2 + rng.below(4))
        .map(|_| sentence(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Post content: block-editor HTML or classic text with blank-line paragraphs, with links,
/// entities, shortcodes, a code block and a bare URL here and there.
fn content(rng: &mut Rng, id: usize) -> String {
    let paragraphs = 4 + rng.below(10);
    let block = rng.below(2) == 0;
    let mut out = String::new();
    for p in 0..paragraphs {
        let mut text = paragraph(rng);
        if rng.below(3) == 0 {
            text.push_str(&format!(
                " See <a href=\"https://example.com/{id}/{p}\">the {} notes</a> &amp; more.",
                WORDS[rng.below(WORDS.len())]
            ));
        }
        if rng.below(6) == 0 {
            text.push_str(&format!(" Details at https://example.org/post/{id}-{p}."));
        }
        if block {
            out.push_str(&format!(
                "<!-- wp:paragraph -->\n<p>{text}</p>\n<!-- /wp:paragraph -->\n\n"
            ));
        } else {
            out.push_str(&text);
            out.push_str("\n\n");
        }
        if rng.below(8) == 0 {
            out.push_str(&format!("[caption id=\"attachment_{id}\" width=\"300\"]<img src=\"https://example.com/{id}.jpg\" alt=\"photo\" /> A photo[/caption]\n\n"));
        }
        if rng.below(12) == 0 {
            out.push_str(
                "<pre><code>&lt;div class=\"x\"&gt;let x = 1;&lt;/div&gt;</code></pre>\n\n",
            );
        }
    }
    out
}

/// Writes a WXR export of about `target` bytes; returns the number of items.
fn generate(path: &Path, target: u64) -> usize {
    let mut rng = Rng(2024);
    let file = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
<wp:wxr_version>1.2</wp:wxr_version>
<wp:author><wp:author_login><![CDATA[alice]]></wp:author_login><wp:author_display_name><![CDATA[Alice Writer]]></wp:author_display_name></wp:author>
<wp:author><wp:author_login><![CDATA[bob]]></wp:author_login><wp:author_display_name><![CDATA[Bob Guest]]></wp:author_display_name></wp:author>"#).unwrap();
    let mut written = 0u64;
    let mut id = 0;
    while written < target {
        id += 1;
        let kind = rng.below(10);
        let (post_type, status) = match kind {
            0 => ("page", "publish"),
            1 => ("attachment", "inherit"),
            2 => ("post", "draft"),
            _ => ("post", "publish"),
        };
        let author = if rng.below(4) == 0 { "bob" } else { "alice" };
        let year = 2010 + rng.below(15);
        let title = format!(
            "{} {} {id}",
            sentence(&mut rng).trim_end_matches('.'),
            WORDS[rng.below(WORDS.len())]
        );
        let body = if post_type == "attachment" {
            String::new()
        } else {
            content(&mut rng, id)
        };
        let item = format!(
            "<item>\n<title>{title}</title>\n<dc:creator><![CDATA[{author}]]></dc:creator>\n<content:encoded><![CDATA[{body}]]></content:encoded>\n<wp:post_id>{id}</wp:post_id>\n<wp:post_date><![CDATA[{year}-{:02}-{:02} 10:00:00]]></wp:post_date>\n<wp:post_name><![CDATA[post-{id}]]></wp:post_name>\n<wp:status><![CDATA[{status}]]></wp:status>\n<wp:post_type><![CDATA[{post_type}]]></wp:post_type>\n<category domain=\"category\" nicename=\"life\"><![CDATA[Life]]></category>\n<category domain=\"post_tag\" nicename=\"t{}\"><![CDATA[T{}]]></category>\n</item>\n",
            1 + rng.below(12),
            1 + rng.below(28),
            id % 7,
            id % 7
        );
        w.write_all(item.as_bytes()).unwrap();
        written += item.len() as u64;
    }
    writeln!(w, "</channel>\n</rss>").unwrap();
    id
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat (clock ticks of
/// 1/100 s): the machine is shared, so wall time alone says little about the code.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that closes the command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One build in this process; prints `MB seconds MB/s items kept peak_rss_mb`.
fn one(file: &Path, selection: &str) {
    let out = file.with_extension(format!("{selection}.jsonl"));
    let cfg = match selection {
        "few" => BuildConfig {
            author: Some("alice".into()),
            since: Some("2020".into()),
            until: Some("2020".into()),
            ..Default::default()
        },
        _ => BuildConfig::default(),
    };
    let options = BuildOptions::resolve(
        vec![SourceSpec {
            path: file.to_path_buf(),
            kind: None,
        }],
        out.clone(),
        cfg,
        &Config::default(),
    )
    .unwrap();
    let size = std::fs::metadata(file).unwrap().len() as f64 / 1e6;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let report = import::build(&options, &mut |_| {}).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let out_mb = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "{size:.1} MB in {secs:.2} s wall = {:.1} MB/s ({cpu:.2} CPU-s = {:.1} MB per CPU-second); {} items -> {} examples ({out_mb:.1} MB written); peak RSS {:.1} MB",
        size / secs,
        size / cpu.max(0.01),
        report.stages[0].kept,
        report.kept(),
        vm_hwm_kb() as f64 / 1024.0
    );
    let _ = std::fs::remove_file(out);
}

/// Single-threaded time per pipeline step (`-- --steps FILE`), to see where the time goes.
fn steps(file: &Path) {
    use voicetune::clean::{clean_post, SourceFormat};
    use voicetune::lint::{lint_line, LintOptions};
    let lint = LintOptions::new(&Config::default());
    let (mut read, mut clean, mut lint_t, mut count, mut h2t) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut posts = Vec::new();
    let t = Instant::now();
    import::wxr::read(file, &mut |_| {}, &mut |p| {
        if p.post_type.as_deref() == Some("post") && p.status.as_deref() == Some("publish") {
            posts.push(p);
        }
        Ok(())
    })
    .unwrap();
    read += t.elapsed().as_secs_f64();
    for p in posts.iter().take(2000) {
        let t = Instant::now();
        let (text, _) = clean_post(&p.body, SourceFormat::Html);
        clean += t.elapsed().as_secs_f64();
        let line = serde_json::json!({"messages": [{"role": "user", "content": p.title}, {"role": "assistant", "content": text}]}).to_string();
        let t = Instant::now();
        let _ = lint_line(&line, &lint);
        lint_t += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = lint.counter.count(&text);
        count += t.elapsed().as_secs_f64();
        let html = voicetune::clean::autop(&p.body);
        let t = Instant::now();
        let _ = voicetune::clean::html_to_text(&html);
        h2t += t.elapsed().as_secs_f64();
    }
    println!("read all {:.2}s; for 2000 posts: clean {clean:.2}s (html2text alone {h2t:.2}s), lint_line {lint_t:.2}s (tokens alone {count:.2}s)", read);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--steps") {
        steps(Path::new(&args[i + 1]));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(Path::new(&args[i + 1]), &args[i + 2]);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    if args.iter().any(|a| a == "--generate-only") {
        let file = Path::new("/tmp/import-bench-50mb.xml");
        generate(file, 50_000_000);
        println!("{}", file.display());
        return;
    }
    for mb in [10u64, 50] {
        let file = dir.path().join(format!("export-{mb}mb.xml"));
        let t = Instant::now();
        let items = generate(&file, mb * 1_000_000);
        println!(
            "generated {} ({items} items) in {:.1} s",
            file.display(),
            t.elapsed().as_secs_f64()
        );
        for selection in ["all", "few"] {
            let exe = std::env::current_exe().unwrap();
            let out = Command::new(exe)
                .arg("--one")
                .arg(&file)
                .arg(selection)
                .output()
                .unwrap();
            print!(
                "  keep {selection}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}
