//! Training end to end on a tiny treebank: it learns, it is reproducible, it resumes exactly,
//! and it refuses to clobber or to load broken checkpoints.

use std::path::Path;

use candle_core::Device;
use salient::checkpoint::{load_classifier, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use salient::data::{sst, Split, Task};
use salient::eval::evaluate;
use salient::model::Arch;
use salient::train::{train, TrainOptions};

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
    train(data, out, opts, resume, &Device::Cpu, &mut |_| {}).unwrap()
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
        let trees = sst::load_split(dir.path(), Split::Dev).unwrap();
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
    let err = train(dir.path(), &out, opts.clone(), false, &Device::Cpu, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    let err = train(dir.path(), &out, TrainOptions { lr: 0.01, ..opts.clone() }, true, &Device::Cpu, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("different options"), "{err}");
    let fresh = dir.path().join("fresh");
    let err = train(dir.path(), &fresh, opts, true, &Device::Cpu, &mut |_| {}).unwrap_err().to_string();
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
    assert!(err(&truncated).contains("does not match the checksum"), "{}", err(&truncated));

    // A config that claims another architecture (checksum kept valid): the shapes disagree.
    let mismatched = copy("mismatched");
    let cfg = std::fs::read_to_string(mismatched.join(CONFIG_FILE)).unwrap().replace("\"bilstm\"", "\"lstm\"");
    std::fs::write(mismatched.join(CONFIG_FILE), cfg).unwrap();
    assert!(err(&mismatched).contains("the config expects"), "{}", err(&mismatched));

    let garbage = copy("garbage");
    std::fs::write(garbage.join(CONFIG_FILE), "{not json").unwrap();
    assert!(err(&garbage).contains("not a salient model config"), "{}", err(&garbage));

    assert!(err(&dir.path().join("nowhere")).contains("no such directory"));
}
