//! Training end to end on a tiny treebank: it learns, it is reproducible, it resumes exactly
//! (also from every state an interrupted commit can leave), it refuses to clobber or to load
//! broken or altered checkpoints, and it stops when it diverges.

use std::path::Path;

use candle_core::Device;
use salient::checkpoint::{load_classifier, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use salient::data::{sst, Split, Task};
use salient::eval::evaluate;
use salient::limits::Limits;
use salient::model::Arch;
use salient::train::{train, TrainOptions};
use salient::Error;

mod common;

use common::write_treebank;

fn options(arch: Arch) -> TrainOptions {
    TrainOptions {
        embedding_dim: 8,
        hidden_dim: 8,
        epochs: 30,
        batch_size: 4,
        lr: 0.3,
        dropout: 0.0,
        patience: 30,
        init_scale: 0.3,
        ..TrainOptions::recommended(arch, Task::Fine)
    }
}

fn run(data: &Path, out: &Path, opts: TrainOptions, resume: bool) -> salient::train::TrainState {
    train(data, out, opts, resume, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap()
}

#[test]
fn every_architecture_learns_the_toy_treebank() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    for arch in [Arch::RNN, Arch::LSTM, Arch::BILSTM] {
        let out = dir.path().join(arch.name());
        let state = run(dir.path(), &out, options(arch), false);
        let first = state.history.first().unwrap().train_loss;
        let last = state.history.last().unwrap().train_loss;
        assert!(last < first * 0.5, "{arch}: loss {first} -> {last}");
        let loaded = load_classifier(&out, &Device::Cpu).unwrap();
        let trees = sst::load_split(dir.path(), Split::Dev, usize::MAX).unwrap();
        let e = evaluate(&loaded.model, &loaded.vocab, &trees, Task::Fine).unwrap();
        assert_eq!(e.sentences, 12);
        assert!(e.sentence_accuracy >= 0.9, "{arch}: dev sentence accuracy {}", e.sentence_accuracy);
        assert_eq!(loaded.card.dev.sentence_accuracy, state.best.unwrap().1.sentence_accuracy);
    }
}

#[test]
fn same_seed_same_weights_and_resume_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let mut opts = options(Arch::LSTM);
    opts.epochs = 4;
    opts.dropout = 0.3;
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    let sa = run(dir.path(), &a, opts.clone(), false);
    let sb = run(dir.path(), &b, opts.clone(), false);
    let weights = |d: &Path| std::fs::read(d.join("checkpoint").join(WEIGHTS_FILE)).unwrap();
    assert_eq!(weights(&a), weights(&b), "same seed, same weights");
    let scores = |s: &salient::train::TrainState| s.history.iter().map(|r| (r.train_loss, r.dev)).collect::<Vec<_>>();
    assert_eq!(scores(&sa), scores(&sb));
    // Two epochs, stop, resume to four: the same weights as four in one go.
    run(dir.path(), &c, TrainOptions { epochs: 2, ..opts.clone() }, false);
    assert_ne!(weights(&c), weights(&a));
    let sc = run(dir.path(), &c, opts.clone(), true);
    assert_eq!(sc.epochs_done, 4);
    assert_eq!(weights(&c), weights(&a), "resumed run ends where an uninterrupted one does");
    // A different seed gives different weights.
    let d = dir.path().join("d");
    run(dir.path(), &d, TrainOptions { seed: 2, ..opts }, false);
    assert_ne!(weights(&d), weights(&a));
}

#[test]
fn existing_runs_are_not_clobbered_and_resume_checks_options() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let out = dir.path().join("run");
    let opts = TrainOptions { epochs: 1, ..options(Arch::RNN) };
    run(dir.path(), &out, opts.clone(), false);
    let err = train(dir.path(), &out, opts.clone(), false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap_err();
    assert!(matches!(&err, salient::Error::RunExists { dir, .. } if dir == &out), "{err}");
    let err = err.to_string();
    assert!(err.contains("already holds a training run"), "{err}");
    let err = train(
        dir.path(),
        &out,
        TrainOptions { lr: 0.01, ..opts.clone() },
        true,
        &Limits::DEFAULT,
        &Device::Cpu,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("other options") && err.contains("\"lr\":0.3"), "{err}");
    let fresh = dir.path().join("fresh");
    let err =
        train(dir.path(), &fresh, opts, true, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("nothing to resume"), "{err}");
}

#[test]
fn broken_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let out = dir.path().join("m");
    run(dir.path(), &out, TrainOptions { epochs: 1, ..options(Arch::BILSTM) }, false);
    let copy = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in [WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE] {
            std::fs::copy(out.join(f), d.join(f)).unwrap();
        }
        d
    };
    let err = |d: &Path| load_classifier(d, &Device::Cpu).unwrap_err().to_string();

    let missing = copy("missing");
    std::fs::remove_file(missing.join(WEIGHTS_FILE)).unwrap();
    assert!(err(&missing).contains("model.safetensors is missing"), "{}", err(&missing));

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join(WEIGHTS_FILE)).unwrap();
    std::fs::write(truncated.join(WEIGHTS_FILE), &bytes[..bytes.len() / 2]).unwrap();
    assert!(err(&truncated).contains("model.safetensors is corrupt"), "{}", err(&truncated));

    // A new directory records the tokenizer's checksum too.
    let tokenizer = copy("tokenizer");
    flip_byte(&tokenizer.join(TOKENIZER_FILE));
    match load_classifier(&tokenizer, &Device::Cpu).unwrap_err() {
        Error::ChecksumMismatch { file, recorded_in, .. } => {
            assert_eq!((file, recorded_in), (tokenizer.join(TOKENIZER_FILE), tokenizer.join(CONFIG_FILE)))
        }
        e => panic!("{e}"),
    }

    // A config that claims another architecture (checksum kept valid): the shapes disagree.
    let mismatched = copy("mismatched");
    let cfg = std::fs::read_to_string(mismatched.join(CONFIG_FILE)).unwrap().replace("\"bilstm\"", "\"lstm\"");
    std::fs::write(mismatched.join(CONFIG_FILE), cfg).unwrap();
    assert!(err(&mismatched).contains("the config expects"), "{}", err(&mismatched));

    let garbage = copy("garbage");
    std::fs::write(garbage.join(CONFIG_FILE), "{not json").unwrap();
    assert!(err(&garbage).contains("not a salient model config"), "{}", err(&garbage));

    assert!(err(&dir.path().join("nowhere")).contains("is not a directory"));
}

/// Flip the lowest bit of the middle byte of `path`.
fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(path, bytes).unwrap();
}

/// Copy a run directory (files and `checkpoint*/` one level down).
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_run(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn sha(path: &Path) -> String {
    salient::checkpoint::sha256_hex(&std::fs::read(path).unwrap())
}

/// What a finished run is compared by: the selected model (its config without the number of
/// epochs asked for, which a resumed run may change) and the last epoch's weights.
fn fingerprint(out: &Path) -> Vec<String> {
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join(CONFIG_FILE)).unwrap()).unwrap();
    config["training"].as_object_mut().unwrap().remove("epochs");
    vec![
        sha(&out.join(WEIGHTS_FILE)),
        sha(&out.join(TOKENIZER_FILE)),
        config.to_string(),
        sha(&out.join("checkpoint").join(WEIGHTS_FILE)),
    ]
}

#[test]
fn every_checkpoint_file_is_verified_before_use() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let opts = TrainOptions { epochs: 2, ..options(Arch::LSTM) };
    let run_dir = dir.path().join("run");
    run(dir.path(), &run_dir, opts.clone(), false);
    let checkpoint = run_dir.join("checkpoint");
    let names = [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
        "selected.safetensors",
        "selected.json",
        "tokenizer.json",
    ];
    let mut listed: Vec<String> = std::fs::read_dir(&checkpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).chain(["manifest.json".into()]).collect();
    expected.sort();
    assert_eq!(listed, expected, "every file of the checkpoint is covered");
    for name in names {
        let copy = dir.path().join(format!("flipped-{name}"));
        copy_run(&run_dir, &copy);
        flip_byte(&copy.join("checkpoint").join(name));
        let e = train(
            dir.path(),
            &copy,
            TrainOptions { epochs: 3, ..opts.clone() },
            true,
            &Limits::DEFAULT,
            &Device::Cpu,
            &mut |_| {},
        )
        .unwrap_err();
        match &e {
            Error::ChecksumMismatch { file, recorded_in, .. } => {
                assert_eq!(file, &copy.join("checkpoint").join(name));
                assert_eq!(recorded_in, &copy.join("checkpoint").join("manifest.json"));
            }
            e => panic!("{name}: {e}"),
        }
        assert!(e.to_string().contains(name), "{e}");
    }
    // A flipped byte in the manifest itself is refused too (a checksum or the JSON breaks).
    let copy = dir.path().join("flipped-manifest");
    copy_run(&run_dir, &copy);
    flip_byte(&copy.join("checkpoint").join("manifest.json"));
    assert!(train(
        dir.path(),
        &copy,
        TrainOptions { epochs: 3, ..opts.clone() },
        true,
        &Limits::DEFAULT,
        &Device::Cpu,
        &mut |_| {}
    )
    .is_err());
    // The selected model at the top level: a load names the file; resuming writes it again.
    let copy = dir.path().join("flipped-selected");
    copy_run(&run_dir, &copy);
    flip_byte(&copy.join(WEIGHTS_FILE));
    match load_classifier(&copy, &Device::Cpu).unwrap_err() {
        Error::ChecksumMismatch { file, .. } => assert_eq!(file, copy.join(WEIGHTS_FILE)),
        e => panic!("{e}"),
    }
    run(dir.path(), &copy, opts, true);
    load_classifier(&copy, &Device::Cpu).unwrap();
    assert_eq!(fingerprint(&copy), fingerprint(&run_dir));
    // A checkpoint without a manifest (older salient, or by hand) is refused, saying why.
    std::fs::remove_file(copy.join("checkpoint").join("manifest.json")).unwrap();
    let e = train(dir.path(), &copy, options(Arch::LSTM), true, &Limits::DEFAULT, &Device::Cpu, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("manifest.json is missing"), "{e}");
}

#[test]
fn every_state_an_interrupted_commit_leaves_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let opts = TrainOptions { epochs: 3, dropout: 0.3, ..options(Arch::RNN) };
    let full = dir.path().join("full");
    run(dir.path(), &full, opts.clone(), false);
    let two = dir.path().join("two");
    run(dir.path(), &two, TrainOptions { epochs: 2, ..opts.clone() }, false);
    // Each state is resumed twice: to 3 epochs, and as a finished run (2 epochs, nothing to train).
    let resumed_matches = |name: &str, damage: &dyn Fn(&Path)| {
        for (epochs, reference) in [(3, &full), (2, &two)] {
            let out = dir.path().join(format!("{name}-{epochs}"));
            copy_run(&two, &out);
            damage(&out);
            let state = run(dir.path(), &out, TrainOptions { epochs, ..opts.clone() }, true);
            assert_eq!(state.epochs_done, epochs, "{name}");
            assert_eq!(fingerprint(&out), fingerprint(reference), "{name} to {epochs} epochs");
            let left: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') || n.starts_with("checkpoint."))
                .collect();
            assert!(left.is_empty(), "{name} to {epochs} epochs: left behind {left:?}");
        }
    };
    // Killed while writing the next generation: a partial checkpoint.new beside checkpoint/.
    resumed_matches("partial-new", &|out| {
        std::fs::create_dir_all(out.join("checkpoint.new")).unwrap();
        std::fs::write(out.join("checkpoint.new").join("model.safetensors"), b"half").unwrap();
    });
    // Killed between the two renames: only checkpoint.old/ (and a complete checkpoint.new/).
    resumed_matches("between-renames", &|out| {
        copy_run(&out.join("checkpoint"), &out.join("checkpoint.new"));
        std::fs::rename(out.join("checkpoint"), out.join("checkpoint.old")).unwrap();
    });
    // Killed before removing checkpoint.old/.
    resumed_matches("stale-old", &|out| copy_run(&out.join("checkpoint"), &out.join("checkpoint.old")));
    // Killed while writing the selected model: new weights beside the old config, a temporary.
    resumed_matches("mixed-selected", &|out| {
        std::fs::write(out.join(WEIGHTS_FILE), b"other weights").unwrap();
        std::fs::write(out.join(".config.json.tmp-4242"), b"{").unwrap();
    });
    // Killed before the selected model was written at all (first epoch).
    resumed_matches("no-selected", &|out| {
        for f in [WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE] {
            std::fs::remove_file(out.join(f)).unwrap();
        }
    });
    // Killed during the first epoch: nothing to resume, and a fresh run starts.
    let first = dir.path().join("first");
    std::fs::create_dir_all(first.join("checkpoint.new")).unwrap();
    let e = train(dir.path(), &first, opts.clone(), true, &Limits::DEFAULT, &Device::Cpu, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing to resume"), "{e}");
    run(dir.path(), &first, opts, false);
    assert_eq!(fingerprint(&first), fingerprint(&full));
}

#[test]
fn a_diverging_run_stops_and_saves_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    for arch in [Arch::RNN, Arch::LSTM] {
        let out = dir.path().join(arch.name());
        let opts = TrainOptions { lr: 1e38, epochs: 3, ..options(arch) };
        match train(dir.path(), &out, opts, false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap_err() {
            Error::Diverged { epoch, value, last_good_epoch, .. } => {
                assert_eq!((epoch, last_good_epoch), (1, 0));
                assert!(!value.is_finite());
            }
            e => panic!("{arch}: {e}"),
        }
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "{arch}: {left:?}");
    }
}
