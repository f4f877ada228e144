//! Runs split with `--shard I/N` and joined with `salient merge` write every file of the
//! unsharded run byte for byte; merge refuses shards that do not make one run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::salient;

/// Every file under `dir` (the record `.salient.jsonl` included), by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_files(unsharded: &Path, merged: &Path) {
    let (a, b) = (files(unsharded), files(merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files");
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between {} and {}", unsharded.display(), merged.display());
    }
}

fn ok(args: &[&str]) -> String {
    let (success, stdout, stderr) = salient(args);
    assert!(success, "salient {args:?} failed: {stderr}");
    stdout
}

/// The error of a run that must fail.
fn fails(args: &[&str]) -> String {
    let (success, _, stderr) = salient(args);
    assert!(!success, "salient {args:?} should fail");
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Sentences of many lengths (batches are formed by length, so a shard that made other batches
/// than the unsharded run would show in the last digits), a blank line and a line the model
/// cannot use.
fn input(lines: usize) -> String {
    let adjectives = ["good", "bad", "funny", "boring", "great", "dull", "moving", "awful"];
    let mut text = String::new();
    for i in 0..lines {
        match i {
            4 => text += "\n",
            9 => text += "zzqx qqzy\n",
            _ => {
                let a = adjectives[i % adjectives.len()];
                let b = adjectives[(i * 3 + 1) % adjectives.len()];
                let tail = " and the plot is".repeat(i % 5);
                text += &format!("the movie is {a}{tail} but not {b} .\n");
            }
        }
    }
    text
}

/// Run every shard of `args` into `root/NAME-I`, and the directories.
fn shards(args: &[&str], root: &Path, name: &str, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            let dir = root.join(format!("{name}-{i}"));
            let shard = format!("{i}/{count}");
            let mut all = args.to_vec();
            all.extend(["--shard", &shard, "--out", s(&dir), "--quiet"]);
            // The shard with the input's bad line fails as the unsharded run does, after writing.
            salient(&all);
            dir
        })
        .collect()
}

fn merge(dirs: &[PathBuf], out: &Path) -> (bool, String) {
    let mut args = vec!["merge", "--out", s(out), "--quiet"];
    args.extend(dirs.iter().map(|d| s(d)));
    let (success, _, stderr) = salient(&args);
    (success, stderr)
}

#[test]
fn sharded_saliency_merges_to_the_unsharded_run() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    for (lines, count, extra) in [(75, 3, &[][..]), (75, 4, &["--shared-scale"][..]), (6, 8, &["--method", "ig"][..])] {
        let file = root.join(format!("in-{lines}.txt"));
        std::fs::write(&file, input(lines)).unwrap();
        let mut args = vec!["saliency", "--input", s(&file), "--batch-size", "2", "--steps", "5"];
        args.extend(extra);
        let full = root.join(format!("full-{lines}-{count}"));
        let mut whole = args.clone();
        whole.extend(["--out", s(&full), "--quiet"]);
        let (_, _, stderr) = salient(&whole);
        // Line 5 is blank; line 10, when there is one, cannot be used.
        let bad = lines >= 10;
        assert_eq!(stderr.contains("line 10"), bad, "the bad line is reported: {stderr}");
        let name = format!("shard-{lines}-{count}");
        let dirs = shards(&args, root, &name, count);
        let explained: Vec<usize> = dirs
            .iter()
            .map(|d| files(d).keys().filter(|f| f.starts_with("sentence-") && f.ends_with(".svg")).count())
            .collect();
        assert_eq!(explained.iter().sum::<usize>(), lines - 1 - bad as usize, "every usable line once: {explained:?}");
        if lines == 75 {
            // 73 sentences in parts of 32 (16 batches of 2): 32, 32, 9.
            let sizes = if count == 3 { vec![32, 32, 9] } else { vec![0, 32, 32, 9] };
            assert_eq!(explained, sizes);
        } else {
            assert_eq!(explained.iter().filter(|&&n| n == 0).count(), 7, "empty shards: {explained:?}");
        }
        let merged = root.join(format!("merged-{lines}-{count}"));
        let mut reversed = dirs.clone();
        reversed.reverse();
        let (success, stderr) = merge(&reversed, &merged);
        assert_eq!(success, !bad, "a bad line fails merge as it fails the run: {stderr}");
        assert_same_files(&full, &merged);
    }
}

#[test]
fn sharded_faithfulness_merges_to_the_unsharded_run() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let args = ["faithfulness", "--limit", "40", "--batch-size", "1", "--methods", "grad,erasure"];
    let full = root.join("full");
    let mut whole = args.to_vec();
    whole.extend(["--out", s(&full), "--quiet"]);
    let table = ok(&whole);
    for count in [3, 5] {
        let dirs = shards(&args, root, &format!("shard{count}"), count);
        let merged = root.join(format!("merged{count}"));
        let (success, stderr) = merge(&dirs, &merged);
        assert!(success, "{stderr}");
        assert_same_files(&full, &merged);
    }
    assert!(table.contains("| erasure |"), "{table}");
}

#[test]
fn merge_refuses_what_is_not_one_whole_run() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let file = root.join("in.txt");
    let text = input(40).replace("zzqx qqzy", "a fine film");
    std::fs::write(&file, &text).unwrap();
    let args = ["saliency", "--input", s(&file), "--batch-size", "2", "--format", "csv,json"];
    let dirs = shards(&args, root, "a", 2);
    let out = |name: &str| root.join(name);

    let (success, stderr) = merge(&dirs[..1], &out("missing"));
    assert!(!success && stderr.contains("shard(s) 1/2 missing"), "{stderr}");
    assert!(!out("missing").exists(), "a refused merge leaves nothing");

    let (success, stderr) = merge(&[dirs[0].clone(), dirs[1].clone(), dirs[0].clone()], &out("twice"));
    assert!(!success && stderr.contains("shard 0 is given twice"), "{stderr}");

    let other_model = shards(&[&args[..], &["--model", "data/models/lstm-fine"]].concat(), root, "model", 2);
    let (success, stderr) = merge(&[dirs[0].clone(), other_model[1].clone()], &out("model"));
    assert!(!success && stderr.contains("different model weights"), "{stderr}");

    let other_options = shards(&[&args[..], &["--method", "erasure"]].concat(), root, "options", 2);
    let (success, stderr) = merge(&[dirs[0].clone(), other_options[1].clone()], &out("options"));
    assert!(!success && stderr.contains("different options"), "{stderr}");

    // The same path with other lines in it.
    std::fs::write(&file, text.replace("funny", "sad")).unwrap();
    let other_input = shards(&args, root, "input", 2);
    let (success, stderr) = merge(&[dirs[0].clone(), other_input[1].clone()], &out("input"));
    assert!(!success && stderr.contains("different inputs"), "{stderr}");

    // A run killed before its end has no last line in its record.
    let killed = root.join("killed");
    copy_dir(&dirs[1], &killed);
    let record = killed.join(".salient.jsonl");
    let lines = std::fs::read_to_string(&record).unwrap();
    let kept: Vec<&str> = lines.lines().filter(|l| !l.starts_with("{\"done\"")).collect();
    std::fs::write(&record, kept.join("\n") + "\n").unwrap();
    let (success, stderr) = merge(&[dirs[0].clone(), killed], &out("killed"));
    assert!(!success && stderr.contains("unfinished shard") && stderr.contains("--resume"), "{stderr}");

    let edited = root.join("edited");
    copy_dir(&dirs[1], &edited);
    std::fs::write(edited.join("saliency.json"), "{}").unwrap();
    let (success, stderr) = merge(&[dirs[0].clone(), edited], &out("edited"));
    assert!(!success && stderr.contains("saliency.json is not what the shard's run wrote"), "{stderr}");

    let unsharded = root.join("unsharded");
    ok(&[&args[..], &["--out", s(&unsharded), "--quiet"]].concat());
    let (success, stderr) = merge(&[dirs[0].clone(), unsharded], &out("unsharded"));
    assert!(!success && stderr.contains("holds no shard"), "{stderr}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn bad_shards_are_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("in.txt");
    std::fs::write(&file, "a good film\n").unwrap();
    let out = root.path().join("o");
    for (shard, expected) in [
        ("3/3", "indices start at 0, so the shards of 3 are 0/3 to 2/3"),
        ("1/0", "the number of shards must be at least 1"),
        ("x", "is not I/N"),
    ] {
        for command in ["saliency", "faithfulness"] {
            let mut args = vec![command, "--shard", shard, "--out", s(&out)];
            if command == "saliency" {
                args.extend(["--input", s(&file)]);
            }
            let stderr = fails(&args);
            assert!(stderr.contains(expected) && stderr.contains("--shard"), "{command} --shard {shard}: {stderr}");
        }
    }
    let stderr = fails(&["saliency", "--text", "a good film", "--shard", "0/2", "--out", s(&out)]);
    assert!(stderr.contains("only an input file is split into shards"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    let stderr = fails(&["faithfulness", "--shard", "0/2"]);
    assert!(stderr.contains("give --out DIR"), "a shard's numbers go to a directory: {stderr}");
}
