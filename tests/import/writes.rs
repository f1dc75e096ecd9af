//! Where `voicetune build -o` writes (issue 17, items 1 and 8): through a symlink to the file it
//! names, never over a FIFO, device or folder, and no temp file left by a signal or by a run
//! that was killed outright.

use super::{examples, fixture, voicetune};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".voicetune-tmp-"))
        .collect()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn build_writes_through_a_symlinked_output_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.jsonl");
    std::fs::write(&real, "old\n").unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let o = voicetune()
        .arg("build")
        .arg(fixture("csv/posts.csv"))
        .arg("-o")
        .arg(&link)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_symlink(), "the link was replaced by a file");
    assert_eq!(
        examples(&real).len(),
        3,
        "the file the link names is the output"
    );
    assert!(temp_files_in(dir.path()).is_empty());
}

#[test]
fn build_refuses_an_output_that_is_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.jsonl");
    mkfifo(&fifo);
    let folder = dir.path().join("folder.jsonl");
    std::fs::create_dir(&folder).unwrap();
    for out in [&fifo, &folder] {
        let o = voicetune()
            .arg("build")
            .arg(fixture("csv/posts.csv"))
            .arg("-o")
            .arg(out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&out.display().to_string()) && stderr.contains("regular file"),
            "{stderr}"
        );
    }
    let fifo_kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&fifo_kind),
        "the FIFO was replaced"
    );
    assert!(folder.is_dir());
    assert!(temp_files_in(dir.path()).is_empty());
}

#[test]
fn build_stopped_by_a_signal_removes_its_temp_file() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO source nobody writes to: the build waits on it with its temp output open.
        let source = dir.path().join("talk.txt");
        mkfifo(&source);
        let out = dir.path().join("out.jsonl");
        let mut child = voicetune()
            .arg("build")
            .arg(format!("transcript:{}", source.display()))
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while temp_files_in(dir.path()).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no temp file appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let killed = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(
            temp_files_in(dir.path()),
            Vec::<String>::new(),
            "temp file left after {signal}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn stale_temp_files_of_a_killed_build_are_removed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // What `kill -9` during a build leaves: PIDs above the kernel's maximum never run.
    for stale in [
        ".out.jsonl.voicetune-tmp-99999999",
        ".out.jsonl.voicetune-tmp-99999998-train",
    ] {
        std::fs::write(dir.path().join(stale), "partial\n").unwrap();
    }
    let o = voicetune()
        .arg("build")
        .arg(fixture("csv/posts.csv"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
}
