//! The README's shell examples, run in order as a reader would paste them.
//!
//! The convention (stated in the README above its first example):
//! - a block fenced as ```` ```sh ```` is run, every command of it, in the order of the README;
//! - a block fenced as ```` ```text ```` is shown only (synopses with `[...]` and `a|b`, records
//!   of past runs, and `cargo` commands, which would build the crate again);
//! - a block fenced as `bash`, `shell`, `console` or `zsh` is an error here, so that no shell
//!   example escapes this test unnoticed: tag it `sh` or `text`.
//!
//! A command is a line of a `sh` block, with lines ending in `\` joined to the next; blank lines
//! and lines starting with `#` are skipped. Each command runs in `bash -e -o pipefail -c` from
//! a fresh temporary directory holding copies of the repository's `data/`, `examples/` and
//! `scripts/`, with the built `salient` first on the `PATH`, `$SALIENT_MODELS` and
//! `$SALIENT_DATA` unset and an empty `$XDG_DATA_HOME`. Files one command writes are there for
//! the next, as in a terminal; a `cd` lasts only for its command, so examples change directory
//! in a subshell: `(cd /tmp && salient eval)`.
//!
//! Shortened, because they take many minutes as written: a command starting with
//! `salient train ` that gives no `--epochs` gets ` --epochs 1` appended. Nothing else is
//! changed: paths, directories and flags are the README's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Commands shortened by appending flags, when the command gives none of them itself.
const SHORTENED: &[(&str, &str, &str)] = &[("salient train ", "--epochs", "--epochs 1")];

/// Repository folders an example may read.
const COPIED: &[&str] = &["data", "examples", "scripts"];

/// One command of the README.
#[derive(Debug)]
struct Example {
    /// The README line it starts on.
    line: usize,
    command: String,
}

/// The commands of the README's `sh` blocks, in order.
fn examples(readme: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_sh: Option<bool> = None;
    let mut pending: Option<Example> = None;
    for (i, line) in readme.lines().enumerate() {
        let number = i + 1;
        if let Some(tag) = line.trim_start().strip_prefix("```") {
            match in_sh {
                None => {
                    let tag = tag.trim();
                    assert!(
                        !["bash", "shell", "console", "zsh", "shell-session"].contains(&tag),
                        "README.md:{number}: a ```{tag} block: tag shell examples `sh` (run by tests/readme.rs) \
                         or `text` (shown only)"
                    );
                    in_sh = Some(tag == "sh");
                }
                Some(_) => {
                    assert!(pending.is_none(), "README.md:{number}: a block ends in a `\\` continuation");
                    in_sh = None;
                }
            }
            continue;
        }
        if in_sh != Some(true) {
            continue;
        }
        let text = line.trim();
        let (text, continued) = match text.strip_suffix('\\') {
            Some(rest) => (rest.trim_end(), true),
            None => (text, false),
        };
        let example = match pending.take() {
            Some(mut e) => {
                e.command.push(' ');
                e.command.push_str(text);
                e
            }
            None if text.is_empty() || text.starts_with('#') => continue,
            None => Example { line: number, command: text.to_string() },
        };
        if continued {
            pending = Some(example);
        } else {
            out.push(example);
        }
    }
    out
}

/// `command` with the flags that shorten it, if it is one of [`SHORTENED`].
fn shortened(command: &str) -> String {
    for (prefix, flag, added) in SHORTENED {
        if command.starts_with(prefix) && !command.split_whitespace().any(|w| w == *flag) {
            return format!("{command} {added}");
        }
    }
    command.to_string()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_convention_reads_blocks_commands_and_continuations() {
    let readme =
        "text\n```sh\n# a comment\nsalient a \\\n    --b c\n\nsalient d  # note\n```\n```text\nsalient e\n```\n";
    let found: Vec<(usize, String)> = examples(readme).into_iter().map(|e| (e.line, e.command)).collect();
    assert_eq!(found, [(4, "salient a --b c".to_string()), (7, "salient d  # note".to_string())]);
    assert_eq!(shortened("salient train --arch rnn"), "salient train --arch rnn --epochs 1");
    assert_eq!(shortened("salient train --epochs 2"), "salient train --epochs 2");
    assert_eq!(shortened("salient trainer"), "salient trainer");
}

#[test]
fn every_readme_example_runs_in_order() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() >= 10, "only {} examples found: is the README's convention still ```sh?", examples.len());

    let work = tempfile::tempdir().unwrap();
    for folder in COPIED {
        if root.join(folder).is_dir() {
            copy_tree(&root.join(folder), &work.path().join(folder));
        }
    }
    let user = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_salient"));
    let path = std::env::join_paths(
        std::iter::once(bin.parent().unwrap().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    for example in &examples {
        let command = shortened(&example.command);
        let started = Instant::now();
        let output = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", &command])
            .current_dir(work.path())
            .env("PATH", &path)
            .env_remove("SALIENT_MODELS")
            .env_remove("SALIENT_DATA")
            .env("XDG_DATA_HOME", user.path())
            .output()
            .unwrap();
        eprintln!("README.md:{} ({:.1} s): {command}", example.line, started.elapsed().as_secs_f64());
        assert!(
            output.status.success(),
            "README.md:{}: `{command}` failed ({})\n--- stderr\n{}\n--- stdout (end)\n{}",
            example.line,
            output.status,
            String::from_utf8_lossy(&output.stderr),
            tail(&String::from_utf8_lossy(&output.stdout), 2000),
        );
    }
}

fn tail(text: &str, chars: usize) -> &str {
    let start = text.char_indices().rev().nth(chars).map_or(0, |(i, _)| i);
    &text[start..]
}
