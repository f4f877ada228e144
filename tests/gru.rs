//! The GRU trains like the other cells: end to end on the toy treebank, and a few steps on real
//! SST phrases lower the loss.

use std::path::Path;

use candle_core::Device;
use salient::checkpoint::load_classifier;
use salient::data::{batch, sst, Batch, Split, Task, Vocab};
use salient::eval::evaluate;
use salient::limits::Limits;
use salient::model::{Arch, CellKind, Dropout};
use salient::train::{fresh_learner, train, train_step, TrainOptions};

mod common;

const GRU: Arch = Arch { cell: CellKind::Gru, bidirectional: false };

#[test]
fn gru_and_bigru_learn_the_toy_treebank_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    common::write_treebank(dir.path());
    for arch in [GRU, Arch { bidirectional: true, ..GRU }] {
        let out = dir.path().join(arch.name());
        let options = TrainOptions {
            embedding_dim: 8,
            hidden_dim: 8,
            epochs: 30,
            batch_size: 4,
            lr: 0.3,
            dropout: 0.0,
            patience: 30,
            init_scale: 0.3,
            ..TrainOptions::recommended(arch, Task::Fine)
        };
        let state = train(dir.path(), &out, options, false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap();
        let (first, last) = (state.history[0].train_loss, state.history.last().unwrap().train_loss);
        assert!(last < first * 0.5, "{arch}: loss {first} -> {last}");
        let loaded = load_classifier(&out, &Device::Cpu).unwrap();
        assert_eq!(loaded.card.model.arch, arch);
        let config = std::fs::read_to_string(out.join("config.json")).unwrap();
        assert!(config.contains(&format!("\"arch\": \"{arch}\"")), "{config}");
        let trees = sst::load_split(dir.path(), Split::Dev, usize::MAX).unwrap();
        let e = evaluate(&loaded.model, &loaded.vocab, &trees, Task::Fine).unwrap();
        assert!(e.sentence_accuracy >= 0.9, "{arch}: dev sentence accuracy {}", e.sentence_accuracy);
    }
}

/// Twenty steps on the same 64 phrases of SST's train split lower the GRU's loss.
#[test]
fn a_few_steps_on_real_sst_phrases_lower_the_gru_loss() {
    let trees: Vec<sst::Tree> =
        sst::load_split(Path::new("data/sst"), Split::Train, usize::MAX).unwrap().into_iter().take(40).collect();
    let vocab = Vocab::build(trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)), true, 1).unwrap();
    let mut examples = batch::unique_phrases(&trees, &vocab, Task::Fine);
    examples.sort_by_key(|e| std::cmp::Reverse(e.ids.len()));
    let picked: Vec<&batch::Example> = examples.iter().take(64).collect();
    let b = Batch::from_examples(&picked);
    let options = TrainOptions { lr: 0.1, ..TrainOptions::recommended(GRU, Task::Fine) };
    let (mut model, mut optimizer) = fresh_learner(&options, vocab.len(), &Device::Cpu).unwrap();
    let mut dropout = Dropout::new(0.0, 1);
    let losses: Vec<f32> = (0..20).map(|_| train_step(&mut model, &mut optimizer, &b, &mut dropout).unwrap()).collect();
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[19] < losses[0] * 0.8, "loss {} -> {}", losses[0], losses[19]);
}
