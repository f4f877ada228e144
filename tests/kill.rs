//! Real runs of the binary killed (SIGKILL) at moments spread over a short run, then resumed:
//! each ends with the same selected model and last-epoch weights, byte for byte, as a run that
//! was never interrupted, and leaves no temporary behind. A byte flipped in any file of the
//! checkpoint makes `--resume` fail naming that file. Classifier and autoencoder.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use salient::checkpoint::sha256_hex;

mod common;

use common::{salient_cmd, write_treebank};

/// Run `salient <args> --out <out> [--resume]` to the end: (success, stderr).
fn run(args: &[&str], out: &Path, resume: bool) -> (bool, String) {
    let mut cmd = salient_cmd();
    cmd.args(args).arg("--out").arg(out);
    if resume {
        cmd.arg("--resume");
    }
    let output = cmd.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The SHA-256 of every file that defines where a run ended (not `state.json`, which records
/// wall-clock times).
fn fingerprint(out: &Path) -> Vec<(String, String)> {
    [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.safetensors",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(out.join(f)).map(|b| sha256_hex(&b)).unwrap_or_else(|e| e.to_string())))
    .collect()
}

/// What a kill left, for the test's log: which step of a commit it interrupted.
fn describe(out: &Path) -> &'static str {
    let config: Option<serde_json::Value> =
        std::fs::read(out.join("config.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let weights = std::fs::read(out.join("model.safetensors")).ok().map(|b| sha256_hex(&b));
    if !out.join("checkpoint").exists() && out.join("checkpoint.old").exists() {
        "between the checkpoint renames"
    } else if !out.join("checkpoint").exists() {
        "before the first checkpoint"
    } else if config.as_ref().and_then(|c| c["weights_sha256"].as_str()).map(str::to_string) != weights {
        "while writing the selected model"
    } else if out.join("checkpoint.new").exists() {
        "while writing a checkpoint"
    } else {
        "between commits"
    }
}

/// Kill `kills` runs of `salient <args>` at moments spread over an uninterrupted run's duration,
/// resume each, and compare with the uninterrupted run.
fn killed_runs_resume_exactly(args: &[&str], root: &Path, kills: usize) {
    let reference = root.join("reference");
    let start = Instant::now();
    let (ok, err) = run(args, &reference, false);
    assert!(ok, "{err}");
    let duration = start.elapsed();
    let expected = fingerprint(&reference);
    let mut seen = Vec::new();
    let mut interrupted = 0;
    for i in 0..kills {
        let out = root.join(format!("killed-{i}"));
        let at = duration.mul_f64((i as f64 + 0.5) / kills as f64);
        let mut child = salient_cmd()
            .args(args)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL; an error only means that the run had already ended.
        child.wait().unwrap();
        let state = if out.exists() { describe(&out) } else { "before anything was written" };
        seen.push(format!("{:>5} ms: {state}", at.as_millis()));
        let (ok, err) = run(args, &out, true);
        if !ok {
            assert!(err.contains("nothing to resume"), "kill {i} at {at:?} ({state}): resume failed: {err}");
            let (ok, err) = run(args, &out, false);
            assert!(ok, "kill {i} at {at:?} ({state}): a fresh run failed: {err}");
        }
        assert_eq!(fingerprint(&out), expected, "kill {i} at {at:?} ({state})");
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') || n.starts_with("checkpoint."))
            .collect();
        assert!(left.is_empty(), "kill {i} at {at:?} ({state}): left behind {left:?}");
    }
    flipped_bytes_are_named(args, &reference, root);
    eprintln!("{} run of {duration:?} killed at:\n  {}", args[0], seen.join("\n  "));
    // Timing varies with the machine's load; a test whose kills all came too late would prove nothing.
    assert!(interrupted * 4 >= kills, "only {interrupted} of {kills} runs were still running when killed");
}

#[test]
fn killed_classifier_runs_resume_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_treebank(&data);
    let args = [
        "train",
        "--arch",
        "lstm",
        "--task",
        "fine",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "8",
        "--patience",
        "8",
        "--embedding-dim",
        "4",
        "--hidden-dim",
        "4",
        "--batch-size",
        "4",
        "--lr",
        "0.3",
        "--dropout",
        "0.2",
    ];
    killed_runs_resume_exactly(&args, dir.path(), 14);
}

#[test]
fn killed_autoencoder_runs_resume_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let words = ["the", "cat", "dog", "sat", "on", "a", "mat", "red"];
    let lines: Vec<String> =
        (0..40).map(|i| format!("{} {} {} .", words[i % 8], words[(i * 3) % 8], words[(i * 5 + 1) % 8])).collect();
    std::fs::write(data.join("train.txt"), lines[..32].join("\n") + "\n").unwrap();
    std::fs::write(data.join("dev.txt"), lines[32..].join("\n") + "\n").unwrap();
    let args = [
        "autoencoder",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "8",
        "--patience",
        "8",
        "--embedding-dim",
        "4",
        "--hidden-dim",
        "8",
        "--vocab-size",
        "16",
        "--max-len",
        "6",
        "--batch-size",
        "8",
        "--lr",
        "0.03",
        "--dropout",
        "0.1",
    ];
    killed_runs_resume_exactly(&args, dir.path(), 14);
}

/// Flip one byte of each file of the finished run's checkpoint in a copy: `--resume` fails and
/// its message names the file.
fn flipped_bytes_are_named(args: &[&str], reference: &Path, root: &Path) {
    for name in [
        "model.safetensors",
        "optimizer.safetensors",
        "selected.safetensors",
        "selected.json",
        "state.json",
        "tokenizer.json",
    ] {
        let copy = root.join(format!("flipped-{name}"));
        std::fs::create_dir_all(copy.join("checkpoint")).unwrap();
        for entry in std::fs::read_dir(reference.join("checkpoint")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join("checkpoint").join(entry.file_name())).unwrap();
        }
        let file = copy.join("checkpoint").join(name);
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&file, bytes).unwrap();
        let (ok, err) = run(args, &copy, true);
        assert!(!ok, "{name}: resumed from a flipped byte");
        assert!(err.contains(&file.display().to_string()) && err.contains("SHA-256"), "{name}: {err}");
    }
}
