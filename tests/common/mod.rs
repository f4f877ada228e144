//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;
use std::process::Command;

/// The `salient` binary as a command to add arguments to.
pub fn salient_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_salient"))
}

/// Run the `salient` binary: (success, stdout, stderr).
pub fn salient(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_salient")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Write a toy treebank (the same trees as train, dev and test) into `dir`: "good"/"great"/"fine"
/// phrases are positive, "bad"/"awful"/"poor" negative, and "not X" flips them.
pub fn write_treebank(dir: &Path) {
    let mut lines = Vec::new();
    for (i, (p, n)) in ["good", "great", "fine"].iter().zip(["bad", "awful", "poor"]).enumerate() {
        let subj = ["film", "movie", "plot"][i];
        lines.push(format!("(4 (2 (2 the) (2 {subj})) (4 (2 is) (4 {p})))"));
        lines.push(format!("(0 (2 (2 the) (2 {subj})) (0 (2 is) (0 {n})))"));
        lines.push(format!("(1 (2 (2 the) (2 {subj})) (1 (2 is) (1 (2 not) (4 {p}))))"));
        lines.push(format!("(3 (2 (2 the) (2 {subj})) (3 (2 is) (3 (2 not) (0 {n}))))"));
    }
    let text = lines.join("\n") + "\n";
    for split in ["train", "dev", "test"] {
        std::fs::write(dir.join(format!("{split}.txt")), &text).unwrap();
    }
}
