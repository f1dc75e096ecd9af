//! Hostile files on the command line (issue 17): `--fix` through a symlink fixes the file it
//! names and keeps the link; terminal control bytes from data never reach the terminal; `stats`
//! refuses a binary file.

use super::{chat, padding, run, temp_dir, voicetune, PAD};

#[test]
fn fix_through_a_symlink_fixes_the_dataset_and_keeps_the_link() {
    let dir = temp_dir("fix-link");
    let real = dir.join("real.jsonl");
    std::fs::write(
        &real,
        format!(
            "{}\n{}\n",
            padding(),
            chat("Post", "Read <b>this</b> now, friends.")
        ),
    )
    .unwrap();
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let (code, _, stderr) = run(voicetune().args(["lint", "--fix"]).arg(&link));
    assert_eq!(code, 0, "{stderr}");
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_symlink(), "the link was replaced by a file");
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("Read this now, friends."));
}

#[test]
fn text_output_shows_control_characters_instead_of_sending_them() {
    let dir = temp_dir("controls");
    let file = dir.join("ctl.jsonl");
    let unknown_key = r#"{"messages":[{"role":"user","content":"Post"},{"role":"assistant","content":"A reply long enough to train on."}],"x\u001b]0;TITLE\u0007":1}"#;
    let raw_escape = "{\"messages\": \u{1b}]0;TITLE\u{7} }";
    std::fs::write(
        &file,
        format!("{}\n{unknown_key}\n{raw_escape}\n", padding()),
    )
    .unwrap();
    let (code, stdout, stderr) = run(voicetune().arg("lint").arg(&file));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains(&format!("ctl.jsonl:{}:", PAD + 1))
            && stdout.contains(&format!("ctl.jsonl:{}:", PAD + 2)),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "control characters reached the terminal: {stdout:?}"
    );
    assert!(stdout.contains("␛]0;TITLE␇"), "{stdout}");
}

#[test]
fn stats_on_a_binary_file_is_an_error() {
    let dir = temp_dir("stats-binary");
    let file = dir.join("image.jsonl");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, bytes).unwrap();
    let (code, stdout, stderr) = run(voicetune().arg("stats").arg(&file));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("image.jsonl") && stderr.contains("not a text file"),
        "{stderr}"
    );
    // Latin-1 bytes and nothing that parses: not text either.
    let latin1 = dir.join("latin1.jsonl");
    std::fs::write(&latin1, b"caf\xe9 cr\xe8me\n\xff\xfe\n").unwrap();
    let (code, _, stderr) = run(voicetune().arg("stats").arg(&latin1));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not UTF-8 text"), "{stderr}");
}
