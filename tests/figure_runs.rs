//! Figure runs that are interrupted, replaced or pointed at a directory they cannot use: real
//! `saliency` and `export` runs killed (SIGKILL) at moments spread over a run and finished with
//! `--resume` end with the bytes of a run that was never interrupted and leave no temporary
//! behind; `--force` removes what an earlier run wrote and nothing else; an output directory that
//! cannot be written stops an export before any figure is made; a long input is written a part
//! at a time into the same files that one part would make.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use salient::checkpoint::sha256_hex;
use salient::export::manifest::RECORD;

mod common;

use common::{salient, salient_cmd};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` (but the records) with its bytes, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != RECORD {
                let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The temporary files under `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains(".tmp-") || name.starts_with(".salient-probe") {
                all.push(path.display().to_string());
            }
        }
    }
    all
}

/// Every file of `dir` but those of the user (`mine`) is in its record with its SHA-256.
fn recorded(dir: &Path, mine: &[&str]) {
    let record = std::fs::read_to_string(dir.join(RECORD)).unwrap();
    for (name, bytes) in tree(dir).into_iter().filter(|(n, _)| !n.contains('/') && !mine.contains(&n.as_str())) {
        let line = format!("{{\"file\":{name:?},\"size\":{},\"sha256\":\"{}\"}}", bytes.len(), sha256_hex(&bytes));
        assert!(record.contains(&line), "{name} is not recorded in {}: {record}", dir.display());
    }
}

/// `count` sentences of words the shipped models know.
fn sentences(count: usize) -> String {
    let subjects = ["the film", "the movie", "this story", "the plot", "the acting", "the music", "it"];
    let verbs = ["is", "was", "seems", "feels"];
    let adjectives = ["good", "bad", "great", "dull", "funny", "boring", "not good", "not bad", "very moving"];
    let tails = ["", " and the end is sad", " , but the cast is fine", " from start to finish", " ."];
    (0..count)
        .map(|i| {
            format!("{} {} {}{}\n", subjects[i % 7], verbs[(i / 7) % 4], adjectives[(i / 3) % 9], tails[(i / 5) % 5])
        })
        .collect()
}

/// Kill `kills` runs of `salient <args> --out DIR` at moments spread over an uninterrupted run,
/// finish each with `--resume`, and compare every file with the uninterrupted run's.
fn killed_runs_resume_exactly(args: &[&str], work: &Path, kills: usize) {
    let reference = work.join("reference");
    let start = Instant::now();
    let (ok, _, err) = salient(&[args, &["--out", s(&reference)]].concat());
    assert!(ok, "{err}");
    let duration = start.elapsed();
    let expected = tree(&reference);
    assert!(expected.len() > 10, "{:?}", expected.keys());
    let mut interrupted = 0;
    let mut seen = Vec::new();
    for i in 0..kills {
        let out = work.join(format!("killed-{i}"));
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
        let left = if out.exists() { tree(&out).len() } else { 0 };
        seen.push(format!(
            "{:>5} ms: {left} file(s), {} temporary",
            at.as_millis(),
            if out.exists() { temporaries(&out).len() } else { 0 }
        ));
        if left > 0 {
            // Without --resume or --force, a rerun refuses to mix with what is there.
            let (ok, _, err) = salient(&[args, &["--out", s(&out)]].concat());
            assert!(!ok && err.contains("--resume"), "kill {i} at {at:?}: {err}");
        }
        let (ok, _, err) = salient(&[args, &["--out", s(&out), "--resume"]].concat());
        assert!(ok, "kill {i} at {at:?}: resume failed: {err}");
        let got = tree(&out);
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "kill {i} at {at:?}");
        for (name, bytes) in &expected {
            assert!(&got[name] == bytes, "kill {i} at {at:?}: {name} differs from the uninterrupted run's");
        }
        assert_eq!(temporaries(&out), Vec::<String>::new(), "kill {i} at {at:?}");
        recorded(&out, &[]);
    }
    eprintln!("{} run of {duration:?} killed at:\n  {}", args[0], seen.join("\n  "));
    // Timing varies with the machine's load; a test whose kills all came too late would prove nothing.
    assert!(interrupted * 2 >= kills, "only {interrupted} of {kills} runs were still running when killed");
}

#[test]
fn killed_saliency_runs_resume_to_the_same_files() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, sentences(300)).unwrap();
    let model = root().join("data/models/rnn-fine");
    // Batches of 4: the input is explained and written in 5 parts.
    let args =
        ["saliency", "--model", s(&model), "--input", s(&input), "--batch-size", "4", "--threads", "1", "--quiet"];
    killed_runs_resume_exactly(&args, work.path(), 6);
}

#[test]
fn killed_export_runs_resume_to_the_same_files() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("in.txt"), sentences(120)).unwrap();
    let spec = work.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[defaults]\nmodel = {:?}\n\n[[figure]]\nname = \"a-saliency\"\nkind = \"saliency\"\ninput = \"in.txt\"\nbatch_size = 4\n\n\
             [[figure]]\nname = \"b-heatmap\"\nkind = \"heatmap\"\ntext = [\"good\", \"not good\", \"bad\"]\n\n\
             [[figure]]\nname = \"c-saliency\"\nkind = \"saliency\"\ninput = \"in.txt\"\nmethod = \"ig\"\nsteps = 4\n",
            s(&root().join("data/models/rnn-fine"))
        ),
    )
    .unwrap();
    let args = ["export", "--spec", s(&spec), "--threads", "1", "--quiet"];
    killed_runs_resume_exactly(&args, work.path(), 6);
}

#[test]
fn force_removes_what_an_earlier_run_wrote_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/models/rnn-fine");
    let out = work.path().join("o");
    let run = |texts: &[&str], extra: &[&str]| {
        let mut args = vec!["saliency", "--model", s(&model), "--out", s(&out), "--quiet"];
        for t in texts {
            args.extend_from_slice(&["--text", t]);
        }
        args.extend_from_slice(extra);
        salient(&args)
    };
    let (ok, _, err) = run(&["the film is good", "the plot is bad", "it is not funny"], &[]);
    assert!(ok, "{err}");
    std::fs::write(out.join("my-notes.txt"), "mine").unwrap();
    let (ok, _, err) = run(&["the film is great"], &["--force"]);
    assert!(ok, "{err}");
    let names: Vec<String> = tree(&out).into_keys().collect();
    assert_eq!(
        names,
        [
            "figures.ipynb",
            "index.html",
            "my-notes.txt",
            "saliency.csv",
            "saliency.json",
            "sentence-0001.svg",
            "tokens.csv"
        ],
        "no stale figure of the earlier run remains beside the new ones, and the user's file stays"
    );
    assert!(std::fs::read_to_string(out.join("saliency.json")).unwrap().contains("the film is great"));
    recorded(&out, &["my-notes.txt"]);
    // A finished run resumed does nothing and changes nothing; with other options it is refused.
    let before = tree(&out);
    let (ok, _, err) = run(&["the film is great"], &["--resume"]);
    assert!(ok, "{err}");
    assert!(tree(&out) == before);
    let (ok, _, err) = run(&["the film is awful"], &["--resume"]);
    assert!(!ok && err.contains("another run") && err.contains("--force"), "{err}");

    // An export: a figure dropped from the spec goes, with its directory; files of the user stay.
    let spec = work.path().join("spec.toml");
    let figure = |name: &str, text: &str| {
        format!("[[figure]]\nname = \"{name}\"\nkind = \"saliency\"\nmodel = {:?}\ntext = [{text:?}]\n", s(&model))
    };
    std::fs::write(&spec, figure("one", "good") + &figure("two", "bad")).unwrap();
    let paper = work.path().join("paper");
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet"]);
    assert!(ok, "{err}");
    std::fs::write(paper.join("README.txt"), "mine").unwrap();
    std::fs::write(&spec, figure("one", "not good")).unwrap();
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet"]);
    assert!(!ok && err.contains("already exists") && err.contains("--force"), "{err}");
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet", "--force"]);
    assert!(ok, "{err}");
    assert!(!paper.join("two").exists(), "the dropped figure is gone");
    assert!(paper.join("README.txt").exists() && paper.join("one/sentence-0001.svg").exists());
    assert!(std::fs::read_to_string(paper.join("one/saliency.json")).unwrap().contains("not good"));
}

#[test]
fn an_unwritable_output_is_found_before_any_figure_is_made() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/models/rnn-fine");
    let spec = work.path().join("spec.toml");
    let figure = |name: &str| {
        format!("[[figure]]\nname = \"{name}\"\nkind = \"saliency\"\nmodel = {:?}\ntext = [\"good\"]\n", s(&model))
    };
    std::fs::write(&spec, figure("first") + &figure("second")).unwrap();
    // The second figure's directory cannot be made: a file has its name.
    let paper = work.path().join("paper");
    std::fs::create_dir_all(&paper).unwrap();
    std::fs::write(paper.join("second"), "in the way").unwrap();
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet"]);
    assert!(!ok && err.contains("second") && err.contains("not a directory"), "{err}");
    assert!(!paper.join("first/sentence-0001.svg").exists(), "no figure was made before the error");

    // Permissions bite only when not running as root.
    let probe = work.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    let root_user = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&probe).unwrap()) == 0;
    if !root_user {
        use std::os::unix::fs::PermissionsExt;
        let paper = work.path().join("paper2");
        std::fs::create_dir_all(paper.join("second")).unwrap();
        std::fs::set_permissions(paper.join("second"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet"]);
        assert!(!ok && err.contains("second"), "{err}");
        assert!(!paper.join("first/sentence-0001.svg").exists(), "no figure was made before the error");
        let out = paper.join("second");
        let (ok, _, err) = salient(&["saliency", "--model", s(&model), "--text", "good", "--out", s(&out)]);
        assert!(!ok && err.contains("cannot write into"), "{err}");
    }
}

#[test]
fn a_long_input_is_written_in_parts_into_the_files_one_part_makes() {
    let work = tempfile::tempdir().unwrap();
    let model = root().join("data/models/rnn-fine");
    // Sentences of one length: batches are then the same whether made per part or all at once.
    let words = ["good", "bad", "dull", "funny", "great", "boring"];
    let mut lines: Vec<String> = (0..520).map(|i| format!("the film is {}", words[i % 6])).collect();
    lines[7] = "zorp blargh".into();
    let input = work.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["saliency", "--model", s(&model), "--input", s(&input), "--out", s(out), "--quiet"];
        args.extend_from_slice(&["--batch-size", "4", "--threads", "2"]);
        args.extend_from_slice(extra);
        let (ok, _, err) = salient(&args);
        assert!(!ok && err.contains("line 8") && err.contains("1 input(s) could not be used"), "{err}");
    };
    // 519 sentences in parts of 16 batches of 4; with one colour scale for all, in one part.
    let parts = work.path().join("parts");
    run(&parts, &[]);
    let whole = work.path().join("whole");
    run(&whole, &["--shared-scale"]);
    for name in ["saliency.csv", "tokens.csv", "saliency.json"] {
        assert!(std::fs::read(parts.join(name)).unwrap() == std::fs::read(whole.join(name)).unwrap(), "{name}");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(parts.join("saliency.json")).unwrap()).unwrap();
    let ids: Vec<u64> = json["results"].as_array().unwrap().iter().map(|r| r["sentence"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=520).filter(|&i| i != 8).collect::<Vec<_>>());
    assert_eq!(json["failures"][0]["at"], "line 8");
    let csv = std::fs::read_to_string(parts.join("tokens.csv")).unwrap();
    assert_eq!(csv.matches("sentence,position").count(), 1, "one header");
    assert_eq!(csv.lines().count(), 1 + 519 * 4);
    // The page: the first 500 figures inline, the others from their files, the failure last.
    let page = std::fs::read_to_string(parts.join("index.html")).unwrap();
    assert_eq!(page.matches("<svg").count(), 500);
    assert_eq!(page.matches("<img src=\"sentence-").count(), 19);
    assert!(page.contains("<img src=\"sentence-0520.svg\""));
    assert!(page.contains("1 input(s) failed") && page.rfind("line 8") > page.rfind("sentence-0520.svg"));
    assert_eq!(tree(&parts).keys().filter(|n| n.ends_with(".svg")).count(), 519);
    recorded(&parts, &[]);
}
