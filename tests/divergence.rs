//! Training that diverges stops: a NaN or infinite loss or weight ends the run with
//! `Error::Diverged`, nothing of that epoch is saved, and the last good checkpoint and selected
//! model stay loadable, for the classifier and the autoencoder.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use salient::checkpoint::{load_autoencoder, load_classifier, ModelCard, ModelFiles, CLASSIFIER_FORMAT};
use salient::data::{batch, sst, Batch, Example, Split, Task, Vocab};
use salient::eval::SplitScores;
use salient::model::{Arch, Classifier, Dropout};
use salient::train::autoencoder::{train_autoencoder, AutoencoderOptions};
use salient::train::{
    fresh_learner, resume_checkpoint, run_epochs, train_step, BatchStats, Learner, LoopSettings, LrSchedule, Optimizer,
    TrainOptions, TrainState,
};
use salient::Error;

mod common;

/// How a test breaks the model at the start of an epoch.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Poison {
    /// A NaN in the embedding row of a word of every training phrase: the loss becomes NaN.
    Loss,
    /// A NaN in the `[PAD]` row, which no training batch reads: the loss stays finite.
    UnusedWeight,
}

/// The SST classifier as the library trains it, with a way to break it at `epoch`.
struct PoisonedClassifier {
    model: Classifier,
    vocab: Vocab,
    examples: Vec<Example>,
    dev: Vec<sst::Tree>,
    options: TrainOptions,
    poison: (usize, Poison),
    batches_seen: usize,
    batches_per_epoch: usize,
}

impl Learner for PoisonedClassifier {
    type Scores = SplitScores;

    fn example_lengths(&self) -> Vec<usize> {
        self.examples.iter().map(|e| e.ids.len()).collect()
    }

    fn train_batch(
        &mut self,
        optimizer: &mut dyn Optimizer,
        indices: &[usize],
        dropout: &mut Dropout,
    ) -> salient::Result<BatchStats> {
        let (epoch, poison) = self.poison;
        if self.batches_seen == (epoch - 1) * self.batches_per_epoch {
            let row = match poison {
                Poison::Loss => self.vocab.token_id("the"),
                Poison::UnusedWeight => 0,
            } as usize;
            let dim = self.model.embedding().dim();
            self.model.embedding_mut().table_mut()[row * dim..(row + 1) * dim].fill(f32::NAN);
        }
        self.batches_seen += 1;
        let refs: Vec<&Example> = indices.iter().map(|&i| &self.examples[i]).collect();
        let b = Batch::from_examples(&refs);
        let loss = train_step(&mut self.model, optimizer, &b, dropout)?;
        Ok(BatchStats { loss, examples: b.batch, tokens: b.tokens() })
    }

    fn evaluate(&self) -> salient::Result<SplitScores> {
        Ok(salient::eval::evaluate(&self.model, &self.vocab, &self.dev, self.options.task.clone())?.scores())
    }

    fn improves(new: &SplitScores, best: &SplitScores) -> bool {
        new.sentence_accuracy > best.sentence_accuracy
    }

    fn selected(&self, epoch: usize, dev: &SplitScores) -> salient::Result<ModelFiles> {
        let card =
            ModelCard::new(self.model.config().clone(), serde_json::to_value(&self.options).unwrap(), epoch, *dev);
        ModelFiles::new(&self.model.tensors()?, &self.vocab, card, CLASSIFIER_FORMAT, candle_core::DType::F32)
    }

    fn checkpoint_tensors(&self) -> salient::Result<HashMap<String, Tensor>> {
        self.model.tensors()
    }

    fn embedding_shape(&self) -> (usize, usize) {
        (self.model.embedding().vocab_size(), self.model.embedding().dim())
    }
}

fn all_finite(dir: &Path) {
    let loaded = load_classifier(dir, &Device::Cpu).unwrap();
    for (name, t) in loaded.model.tensors().unwrap() {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{name} of the selected model is not finite");
    }
}

#[test]
fn a_nan_in_epoch_three_keeps_the_checkpoint_and_model_of_epoch_two() {
    let dir = tempfile::tempdir().unwrap();
    common::write_treebank(dir.path());
    let train_trees = sst::load_split(dir.path(), Split::Train, usize::MAX).unwrap();
    let dev = sst::load_split(dir.path(), Split::Dev, usize::MAX).unwrap();
    let options = TrainOptions {
        embedding_dim: 6,
        hidden_dim: 6,
        epochs: 5,
        batch_size: 4,
        lr: 0.3,
        dropout: 0.0,
        patience: 5,
        ..TrainOptions::recommended(Arch::LSTM, Task::Fine)
    };
    let vocab = Vocab::build(train_trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)), true, 1).unwrap();
    let examples = batch::unique_phrases(&train_trees, &vocab, Task::Fine);
    let settings = LoopSettings {
        epochs: options.epochs,
        patience: options.patience,
        batch_size: options.batch_size,
        dropout: 0.0,
        seed: options.seed,
        lr: options.lr,
        lr_schedule: LrSchedule::Constant,
    };
    let batches_per_epoch =
        batch::length_batches(examples.iter().map(|e| e.ids.len()), 4, None::<&mut rand::rngs::StdRng>).len();
    for poison in [Poison::Loss, Poison::UnusedWeight] {
        let out = dir.path().join(format!("{poison:?}"));
        std::fs::create_dir_all(&out).unwrap();
        let (model, mut optimizer) = fresh_learner(&options, vocab.len(), &Device::Cpu).unwrap();
        let mut learner = PoisonedClassifier {
            model,
            vocab: vocab.clone(),
            examples: examples.clone(),
            dev: dev.clone(),
            options: options.clone(),
            poison: (3, poison),
            batches_seen: 0,
            batches_per_epoch,
        };
        let mut state =
            TrainState { options: options.clone(), epochs_done: 0, best: None, history: vec![], stopped_early: false };
        let e = run_epochs(&out, &mut learner, &mut optimizer, &mut state, None, settings, &mut |_| {}).unwrap_err();
        match &e {
            Error::Diverged { epoch: 3, quantity, value, last_good_epoch: 2 } => {
                assert!(value.is_nan());
                let expected = match poison {
                    Poison::Loss => "the training loss of batch",
                    Poison::UnusedWeight => "weight `embedding.weight`",
                };
                assert!(quantity.starts_with(expected), "{poison:?}: {quantity}");
            }
            e => panic!("{poison:?}: {e}"),
        }
        assert!(e.to_string().contains("epoch 2"), "{e}");
        // The checkpoint is the one of epoch 2, verified, and the selected model is finite.
        let resumed = resume_checkpoint::<TrainOptions, SplitScores>(&out, &options).unwrap();
        assert_eq!(resumed.state.epochs_done, 2);
        assert!(resumed.state.best.unwrap().0 <= 2);
        all_finite(&out);
    }
}

#[test]
fn the_autoencoder_stops_when_it_diverges() {
    let dir = tempfile::tempdir().unwrap();
    let words = ["the", "cat", "dog", "sat", "on", "a", "mat"];
    let lines: Vec<String> =
        (0..24).map(|i| format!("{} {} {} .", words[i % 7], words[(i * 3) % 7], words[(i + 2) % 7])).collect();
    std::fs::write(dir.path().join("train.txt"), lines[..18].join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("dev.txt"), lines[18..].join("\n") + "\n").unwrap();
    let options = AutoencoderOptions {
        embedding_dim: 4,
        hidden_dim: 8,
        vocab_size: 20,
        max_len: 8,
        epochs: 2,
        batch_size: 6,
        lr: 0.01,
        patience: 5,
        ..AutoencoderOptions::default()
    };
    // A sane learning rate trains and saves a model; a huge one diverges in the first epoch.
    let good = dir.path().join("good");
    train_autoencoder(dir.path(), &good, options.clone(), false, &Device::Cpu, &mut |_| {}).unwrap();
    load_autoencoder(&good, &Device::Cpu, candle_core::DType::F32).unwrap();
    let bad = dir.path().join("bad");
    let e = train_autoencoder(
        dir.path(),
        &bad,
        AutoencoderOptions { lr: 1e38, ..options },
        false,
        &Device::Cpu,
        &mut |_| {},
    )
    .unwrap_err();
    match e {
        Error::Diverged { epoch: 1, value, last_good_epoch: 0, .. } => assert!(!value.is_finite()),
        e => panic!("{e}"),
    }
    assert_eq!(std::fs::read_dir(&bad).unwrap().count(), 0, "nothing was saved");
}
