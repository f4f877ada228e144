//! The training recipes beyond the defaults, on a tiny treebank: weight averaging scores the
//! mean of the last epochs' weights, word dropout and every phrase occurrence change what is
//! trained on, the triangular schedule moves the rate, every one of them resumes exactly, and
//! the learning-rate range test measures what it says.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use salient::checkpoint::{load_classifier, WEIGHTS_FILE};
use salient::data::{batch, sst, Split, Task, Vocab};
use salient::eval::evaluate;
use salient::limits::Limits;
use salient::model::{Arch, Classifier};
use salient::train::{lr_range_test, train, LrSchedule, PhraseSet, TrainEvent, TrainOptions, TrainState};

mod common;

use common::{salient, write_treebank};

fn options() -> TrainOptions {
    TrainOptions {
        embedding_dim: 8,
        hidden_dim: 8,
        epochs: 4,
        batch_size: 4,
        lr: 0.3,
        dropout: 0.2,
        patience: 30,
        init_scale: 0.3,
        ..TrainOptions::recommended(Arch::LSTM, Task::Fine)
    }
}

fn run(data: &Path, out: &Path, opts: TrainOptions, resume: bool) -> TrainState {
    train(data, out, opts, resume, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap()
}

/// Tensors as comparable values.
fn flat(tensors: &HashMap<String, Tensor>) -> std::collections::BTreeMap<String, Vec<f32>> {
    tensors.iter().map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1::<f32>().unwrap())).collect()
}

/// The raw weights of a run's last epoch (its checkpoint), without averaging entries.
fn checkpoint_weights(out: &Path) -> HashMap<String, Tensor> {
    let all = candle_core::safetensors::load(out.join("checkpoint").join(WEIGHTS_FILE), &Device::Cpu).unwrap();
    all.into_iter().filter(|(k, _)| !k.starts_with("average.")).collect()
}

fn dev_accuracy(tensors: &HashMap<String, Tensor>, data: &Path, vocab: &Vocab, like: &Classifier) -> f64 {
    let map = tensors.iter().map(|(k, v)| (k.clone(), v.to_dtype(DType::F32).unwrap())).collect();
    let model =
        Classifier::load(VarBuilder::from_tensors(map, DType::F32, &Device::Cpu), like.config().clone()).unwrap();
    let trees = sst::load_split(data, Split::Dev, usize::MAX).unwrap();
    evaluate(&model, vocab, &trees, Task::Fine).unwrap().sentence_accuracy
}

#[test]
fn averaging_scores_the_mean_of_the_last_epochs_weights() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let averaged = TrainOptions { average_last: 2, ..options() };
    // The same run without averaging trains the same weights: averaging only changes what is
    // scored and selected.
    let (raw1, raw2) = (dir.path().join("raw1"), dir.path().join("raw2"));
    run(dir.path(), &raw1, TrainOptions { epochs: 1, ..options() }, false);
    run(dir.path(), &raw2, TrainOptions { epochs: 2, ..options() }, false);
    let avg = dir.path().join("avg");
    let state = run(dir.path(), &avg, TrainOptions { epochs: 2, ..averaged.clone() }, false);
    assert_eq!(
        flat(&checkpoint_weights(&avg)),
        flat(&checkpoint_weights(&raw2)),
        "averaging changed the training itself"
    );

    let (w1, w2) = (checkpoint_weights(&raw1), checkpoint_weights(&raw2));
    let mean: HashMap<String, Tensor> =
        w1.iter().map(|(k, a)| (k.clone(), ((a + &w2[k]).unwrap() * 0.5).unwrap())).collect();
    let loaded = load_classifier(&avg, &Device::Cpu).unwrap();
    // Epoch 1 scores its own weights, epoch 2 the mean of epochs 1 and 2.
    assert_eq!(state.history[0].dev.sentence_accuracy, dev_accuracy(&w1, dir.path(), &loaded.vocab, &loaded.model));
    assert_eq!(state.history[1].dev.sentence_accuracy, dev_accuracy(&mean, dir.path(), &loaded.vocab, &loaded.model));
    // The selected model is the average's weights where epoch 2 was selected.
    if state.best.as_ref().unwrap().0 == 2 {
        let selected = loaded.model.tensors().unwrap();
        for (k, m) in &mean {
            let diff = (&selected[k] - m).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-6, "{k}: {diff}");
        }
    }
    // The checkpoint keeps the earlier epoch's weights for the next average.
    let all = candle_core::safetensors::load(avg.join("checkpoint").join(WEIGHTS_FILE), &Device::Cpu).unwrap();
    for (k, t) in &w1 {
        let same = (&all[&format!("average.0.{k}")] - t).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0, "{k}");
    }
}

#[test]
fn every_recipe_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let recipe = TrainOptions {
        average_last: 3,
        word_dropout: 0.25,
        phrases: PhraseSet::All,
        lr_schedule: LrSchedule::Triangular { min_lr: 0.05, cycle_epochs: 1.5 },
        ..options()
    };
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    let a = run(dir.path(), &whole, recipe.clone(), false);
    run(dir.path(), &parts, TrainOptions { epochs: 1, ..recipe.clone() }, false);
    run(dir.path(), &parts, TrainOptions { epochs: 2, ..recipe.clone() }, true);
    let b = run(dir.path(), &parts, recipe.clone(), true);
    let scores = |s: &TrainState| s.history.iter().map(|r| (r.train_loss, r.dev, r.improved)).collect::<Vec<_>>();
    assert_eq!(scores(&a), scores(&b));
    let file = |d: &Path, name: &str| std::fs::read(d.join(name)).unwrap();
    assert_eq!(file(&whole, WEIGHTS_FILE), file(&parts, WEIGHTS_FILE), "selected model");
    assert_eq!(file(&whole, "checkpoint/model.safetensors"), file(&parts, "checkpoint/model.safetensors"));
    // The options are recorded, and a plain run's record does not mention them.
    let config = String::from_utf8(file(&whole, "config.json")).unwrap();
    for needle in
        ["\"average_last\": 3", "\"word_dropout\": 0.25", "\"phrases\": \"all\"", "\"policy\": \"triangular\""]
    {
        assert!(config.contains(needle), "{needle} not in {config}");
    }
    let plain = dir.path().join("plain");
    run(dir.path(), &plain, TrainOptions { epochs: 1, ..options() }, false);
    let config = String::from_utf8(file(&plain, "config.json")).unwrap();
    for needle in ["average_last", "word_dropout", "phrases", "lr_schedule"] {
        assert!(!config.contains(needle), "{needle} in {config}");
    }
}

#[test]
fn word_dropout_schedule_and_phrases_change_the_training() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let base = TrainOptions { epochs: 1, ..options() };
    let train_with = |name: &str, opts: TrainOptions| {
        let out = dir.path().join(name);
        let mut examples = 0;
        train(dir.path(), &out, opts, false, &Limits::DEFAULT, &Device::Cpu, &mut |e| {
            if let TrainEvent::Batch { examples: n, .. } = e {
                examples += n;
            }
        })
        .unwrap();
        (flat(&checkpoint_weights(&out)), examples)
    };
    let (plain, unique) = train_with("plain", base.clone());
    let (dropped, _) = train_with("dropped", TrainOptions { word_dropout: 0.3, ..base.clone() });
    let (cyclic, _) = train_with(
        "cyclic",
        TrainOptions { lr_schedule: LrSchedule::Triangular { min_lr: 0.01, cycle_epochs: 2.0 }, ..base.clone() },
    );
    let (_, all) = train_with("all", TrainOptions { phrases: PhraseSet::All, ..base.clone() });
    assert_ne!(plain, dropped);
    assert_ne!(plain, cyclic);
    // The toy treebank repeats phrases (every sentence has "the movie"-like spans), and every
    // occurrence counts with --phrases all.
    let trees = sst::load_split(dir.path(), Split::Train, usize::MAX).unwrap();
    let vocab = Vocab::build(trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)), true, 1).unwrap();
    assert_eq!(unique, batch::unique_phrases(&trees, &vocab, Task::Fine).len());
    assert_eq!(all, trees.iter().map(|t| t.spans.len()).sum::<usize>());
    assert!(all > unique, "{all} occurrences, {unique} unique");
}

#[test]
fn the_range_test_rises_geometrically_and_measures_dev() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let opts = TrainOptions { batch_size: 1, lr: 0.5, ..options() };
    let mut seen = 0;
    let points =
        lr_range_test(dir.path(), &opts, 0.005, 5, &Limits::DEFAULT, &Device::Cpu, &mut |_| seen += 1).unwrap();
    assert_eq!(seen, points.len());
    assert!(points.len() >= 10, "{} points", points.len());
    assert!((points[0].lr - 0.005).abs() < 1e-12);
    let ratios: Vec<f64> = points.windows(2).map(|w| w[1].lr / w[0].lr).collect();
    assert!(ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-9 && *r > 1.0), "{ratios:?}");
    let measured: Vec<f64> = points.iter().filter_map(|p| p.dev_accuracy).collect();
    assert!(!measured.is_empty() && measured.len() <= 5);
    assert!(measured.iter().all(|a| (0.0..=1.0).contains(a)));
    if points.last().unwrap().lr > 0.5 - 1e-9 {
        assert_eq!(measured.len(), 5);
        assert!(points.last().unwrap().dev_accuracy.is_some());
    }
    // A lower rate above the upper one is refused.
    let err = lr_range_test(dir.path(), &opts, 1.0, 5, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("lr_min"), "{err}");
}

#[test]
fn the_cli_names_what_a_recipe_flag_needs() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let data = dir.path().to_str().unwrap();
    let out = dir.path().join("o");
    let out = out.to_str().unwrap();
    let base = ["train", "--arch", "rnn", "--task", "fine", "--data", data, "--out", out, "--epochs", "1"];
    let with = |extra: &[&str]| salient(&[&base[..], extra].concat());
    let (ok, _, err) = with(&["--lr-schedule", "triangular"]);
    assert!(!ok && err.contains("--lr-min"), "{err}");
    let (ok, _, err) = with(&["--word-dropout", "1.5"]);
    assert!(!ok && err.contains("word_dropout"), "{err}");
    let (ok, _, err) = with(&["--average-last", "0"]);
    assert!(!ok && err.contains("average_last"), "{err}");
    let (ok, _, err) = with(&["--lr-range-test", "--lr-min", "0.001", "--lr", "0.3", "--batch-size", "2"]);
    assert!(ok, "{err}");
    let csv = std::fs::read_to_string(Path::new(out).join("lr-range.csv")).unwrap();
    assert!(csv.starts_with("batch,lr,smoothed_loss,dev_sentence_accuracy\n"), "{csv}");
    assert!(err.contains("best dev sentence accuracy"), "{err}");
    // It never writes over an earlier test.
    let (ok, _, err) = with(&["--lr-range-test", "--lr-min", "0.001", "--lr", "0.3"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(Path::new(out).join("lr-range.csv")).unwrap(), csv);
}
