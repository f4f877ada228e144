//! The hand-written training pass (forward and backward through time on host buffers) against
//! candle's autograd and against finite differences, the choice between the two, and
//! reproducible training on it.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use salient::data::{Batch, Task};
use salient::model::{Arch, Classifier, ClassifierConfig, Dropout, TrainingGradients, TrainingPass};
use salient::train::{fresh_learner, train_step, TrainOptions};

fn config(arch: Arch) -> ClassifierConfig {
    ClassifierConfig { arch, task: Task::Fine.into(), vocab_size: 12, embedding_dim: 4, hidden_dim: 3 }
}

/// Weights larger than training's init, so that every gate and state matters.
fn params(arch: Arch, seed: u64) -> HashMap<String, Tensor> {
    config(arch).init_parameters(seed, 0.8, &Device::Cpu).unwrap()
}

/// A trainable model (every tensor but the embedding table a `Var`) in `dtype`.
fn model(arch: Arch, params: &HashMap<String, Tensor>, dtype: DType) -> Classifier {
    let map = params
        .iter()
        .map(|(k, v)| {
            let v = v.to_dtype(dtype).unwrap();
            let v = if k == "embedding.weight" { v } else { Var::from_tensor(&v).unwrap().as_tensor().clone() };
            (k.clone(), v)
        })
        .collect();
    Classifier::load(VarBuilder::from_tensors(map, dtype, &Device::Cpu), config(arch)).unwrap()
}

/// Left-padded rows of lengths 2, 5, 1 and 3, with labels.
fn batch() -> Batch {
    Batch::from_sequences(&[vec![4, 5], vec![6, 7, 8, 9, 10], vec![11], vec![2, 3, 2]], vec![0, 3, 4, 1])
}

fn run(m: &Classifier, pass: TrainingPass, dropout: f32) -> TrainingGradients {
    m.training_gradients_with(pass, &batch(), Some(&mut Dropout::new(dropout, 5))).unwrap()
}

/// Every dense weight's gradient by name (the embedding table has none: its rows' gradients
/// come separately).
fn grads(m: &Classifier, g: &TrainingGradients) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = m
        .tensors()
        .unwrap()
        .into_iter()
        .filter(|(name, _)| name != "embedding.weight")
        .map(|(name, t)| {
            let grad = g.grads.get(&t).unwrap_or_else(|| panic!("no gradient for {name}"));
            assert_eq!(grad.dims(), t.dims(), "{name}");
            (name, grad.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{k}]: hand {x} vs autograd {y}");
    }
}

fn compare(m: &Classifier, dropout: f32, tol: f64) {
    let hand = run(m, TrainingPass::Hand, dropout);
    let auto = run(m, TrainingPass::Autograd, dropout);
    let arch = m.config().arch;
    assert_close(&format!("{arch} p={dropout} loss"), &[hand.loss as f64], &[auto.loss as f64], tol);
    let (gh, ga) = (grads(m, &hand), grads(m, &auto));
    assert_eq!(gh.len(), ga.len());
    for ((name, h), (_, a)) in gh.iter().zip(&ga) {
        assert!(a.iter().any(|&v| v != 0.0), "{arch}: {name} has a zero gradient");
        assert_close(&format!("{arch} p={dropout} {name}"), h, a, tol);
    }
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (eh, ea) = (f(&hand.embedding_grad), f(&auto.embedding_grad));
    assert_close(&format!("{arch} p={dropout} embeddings"), &eh, &ea, tol);
    // Padding (row 0's first three positions) gets nothing; the batch's words get something.
    assert!(eh[..3 * 4].iter().all(|&v| v == 0.0), "{arch}: gradient leaked into padding");
    assert!(eh[3 * 4..4 * 4].iter().any(|&v| v != 0.0));
}

/// Loss and every gradient equal autograd's for every cell kind, forward and bidirectional, on
/// a padded batch of mixed lengths, without and with dropout (the same masks both ways): to
/// rounding in f32, and to 1e-10 in f64.
#[test]
fn hand_pass_equals_autograd_for_every_architecture() {
    for arch in Arch::ALL {
        let p = params(arch, 11);
        for dropout in [0.0, 0.3] {
            compare(&model(arch, &p, DType::F32), dropout, 2e-5);
            compare(&model(arch, &p, DType::F64), dropout, 1e-10);
        }
    }
}

/// Every weight's gradient and every embedding row's against central differences of the loss
/// in f64 (with dropout, its masks redrawn the same for every evaluation).
#[test]
fn hand_pass_gradients_match_finite_differences_in_f64() {
    let b = batch();
    for arch in Arch::ALL {
        let p = params(arch, 23);
        let loss = |p: &HashMap<String, Tensor>| -> f64 {
            // The model's own forward pass in f64 (the reported loss is f32, too coarse here).
            let m = model(arch, p, DType::F64);
            let x = m.embed(&b).unwrap().to_dtype(DType::F64).unwrap();
            let mask = m.mask(&b).unwrap();
            let logits =
                m.forward_embedded(&x, mask.as_ref(), Some(&mut Dropout::new(0.25, 9)), &mut salient::model::NoTrace);
            let labels = Tensor::from_slice(&b.labels, b.batch, &Device::Cpu).unwrap();
            candle_nn::loss::cross_entropy(&logits.unwrap(), &labels).unwrap().to_scalar::<f64>().unwrap()
        };
        let m = model(arch, &p, DType::F64);
        let g = m.training_gradients_with(TrainingPass::Hand, &b, Some(&mut Dropout::new(0.25, 9))).unwrap();
        let analytic: HashMap<String, Vec<f64>> = grads(&m, &g).into_iter().collect();
        let eps = 1e-6;
        for (name, values) in &analytic {
            let base = p[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (k, &a) in values.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v: Vec<f64> = base.iter().map(|&x| x as f64).collect();
                    v[k] += delta;
                    let mut q = p.clone();
                    q.insert(name.clone(), Tensor::from_vec(v, p[name].shape(), &Device::Cpu).unwrap());
                    loss(&q)
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!((a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()), "{arch} {name}[{k}]: {a} vs {numeric}");
            }
        }
        // Embedding rows: the table is f32, so step by what f32 can represent.
        let table = p["embedding.weight"].to_vec2::<f32>().unwrap();
        let dim = table[0].len();
        for id in [2u32, 6, 11] {
            let summed: Vec<f64> = (0..dim)
                .map(|j| {
                    b.ids
                        .iter()
                        .enumerate()
                        .filter(|(_, &i)| i == id)
                        .map(|(k, _)| g.embedding_grad[k * dim + j] as f64)
                        .sum()
                })
                .collect();
            for (j, &a) in summed.iter().enumerate() {
                let at = |step: f32| {
                    let mut t = table.clone();
                    t[id as usize][j] += step;
                    let moved = t[id as usize][j] as f64 - table[id as usize][j] as f64;
                    let mut q = p.clone();
                    q.insert("embedding.weight".into(), Tensor::new(t, &Device::Cpu).unwrap());
                    (loss(&q), moved)
                };
                let ((up, du), (down, dd)) = (at(1e-3), at(-1e-3));
                let numeric = (up - down) / (du - dd);
                assert!((a - numeric).abs() <= 1e-4 * (1.0 + numeric.abs()), "{arch} row {id}[{j}]: {a} vs {numeric}");
            }
        }
    }
}

/// f32 weights on the CPU run the hand-written pass; anything else (here f64, as on a GPU)
/// falls back to autograd, which computes the same result.
#[test]
fn the_model_chooses_the_hand_pass_only_where_it_applies() {
    for arch in Arch::ALL {
        let p = params(arch, 3);
        assert_eq!(model(arch, &p, DType::F32).training_pass(), TrainingPass::Hand, "{arch}");
        let m = model(arch, &p, DType::F64);
        assert_eq!(m.training_pass(), TrainingPass::Autograd, "{arch}");
        let chosen = m.training_gradients(&batch(), Some(&mut Dropout::new(0.2, 5))).unwrap();
        let auto = run(&m, TrainingPass::Autograd, 0.2);
        assert_eq!(chosen.loss, auto.loss);
        assert_eq!(grads(&m, &chosen), grads(&m, &auto), "{arch}: the fallback is autograd's pass");
        assert_eq!(chosen.embedding_grad, auto.embedding_grad);
    }
    let m = model(Arch::LSTM, &params(Arch::LSTM, 3), DType::F16);
    assert_eq!(m.training_pass(), TrainingPass::Autograd);
    let e = m.training_gradients_with(TrainingPass::Hand, &batch(), None).unwrap_err().to_string();
    assert!(e.contains("f32 or f64"), "{e}");
}

/// The same seed and thread count train to the same bits on the hand-written pass.
#[test]
fn training_on_the_hand_pass_is_bit_reproducible() {
    let seqs: Vec<Vec<u32>> =
        (0..24).map(|i| (0..1 + i % 7).map(|j| 2 + ((i * 5 + j * 3) % 40) as u32).collect()).collect();
    for arch in [Arch::RNN, Arch::BILSTM, Arch { cell: salient::model::CellKind::Gru, bidirectional: false }] {
        let train = || {
            let options =
                TrainOptions { embedding_dim: 8, hidden_dim: 6, ..TrainOptions::recommended(arch, Task::Fine) };
            let (mut model, mut optimizer) = fresh_learner(&options, 50, &Device::Cpu).unwrap();
            assert_eq!(model.training_pass(), TrainingPass::Hand);
            let mut dropout = Dropout::new(0.5, 7);
            for chunk in seqs.chunks(6) {
                let labels = (0..chunk.len() as u32).map(|i| i % 5).collect();
                train_step(&mut model, &mut optimizer, &Batch::from_sequences(chunk, labels), &mut dropout).unwrap();
            }
            let mut t: Vec<(String, Vec<f32>)> = model
                .tensors()
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
                .collect();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t
        };
        let (a, b) = (train(), train());
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()), "{arch}: {name} differs");
        }
    }
}

mod autoencoder {
    use super::*;
    use salient::data::PairBatch;
    use salient::model::{Autoencoder, AutoencoderConfig, NoTrace};

    fn config(reverse_input: bool) -> AutoencoderConfig {
        AutoencoderConfig { vocab_size: 12, embedding_dim: 4, hidden_dim: 3, max_len: 8, reverse_input }
    }

    fn params(reverse_input: bool, seed: u64) -> HashMap<String, Tensor> {
        let mut p = config(reverse_input).init_parameters(seed, 0.8, &Device::Cpu).unwrap();
        // A non-zero output bias, so that its gradient is tested against something.
        let vocab = p["output.bias"].dims1().unwrap();
        let bias: Vec<f32> = (0..vocab).map(|i| 0.1 * (i % 3) as f32 - 0.1).collect();
        p.insert("output.bias".into(), Tensor::from_vec(bias, vocab, &Device::Cpu).unwrap());
        p
    }

    fn model(reverse_input: bool, params: &HashMap<String, Tensor>, dtype: DType) -> Autoencoder {
        let map = params
            .iter()
            .map(|(k, v)| {
                let v = v.to_dtype(dtype).unwrap();
                let v = if k == "embedding.weight" { v } else { Var::from_tensor(&v).unwrap().as_tensor().clone() };
                (k.clone(), v)
            })
            .collect();
        Autoencoder::load(VarBuilder::from_tensors(map, dtype, &Device::Cpu), config(reverse_input)).unwrap()
    }

    /// Sources of lengths 2, 5 and 1 (padded), each reconstructed.
    fn batch() -> PairBatch {
        let s: [&[u32]; 3] = [&[4, 5], &[6, 7, 8, 9, 10], &[11]];
        PairBatch::new(&s, &s)
    }

    fn grads(m: &Autoencoder, g: &TrainingGradients) -> Vec<(String, Vec<f64>)> {
        let mut out: Vec<(String, Vec<f64>)> = m
            .tensors()
            .unwrap()
            .into_iter()
            .filter(|(name, _)| name != "embedding.weight")
            .map(|(name, t)| {
                let grad = g.grads.get(&t).unwrap_or_else(|| panic!("no gradient for {name}"));
                assert_eq!(grad.dims(), t.dims(), "{name}");
                (name, grad.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap())
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Encoder (either reading direction) and decoder: loss and every gradient equal autograd's
    /// on a padded batch, without and with dropout.
    #[test]
    fn hand_pass_equals_autograd() {
        for reverse in [true, false] {
            let p = params(reverse, 4);
            for (dtype, tol) in [(DType::F32, 2e-5), (DType::F64, 1e-10)] {
                let m = model(reverse, &p, dtype);
                assert_eq!(m.training_pass() == TrainingPass::Hand, dtype == DType::F32);
                for (dropout, output) in [(0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.3, 0.4)] {
                    let run = |pass| {
                        m.training_gradients_with(pass, &batch(), Some(&mut Dropout::new(dropout, 8)), output).unwrap()
                    };
                    let (hand, auto) = (run(TrainingPass::Hand), run(TrainingPass::Autograd));
                    let what = format!("reverse={reverse} {dtype:?} p={dropout} output p={output}");
                    assert_close(&format!("{what} loss"), &[hand.loss as f64], &[auto.loss as f64], tol);
                    for ((name, h), (_, a)) in grads(&m, &hand).iter().zip(&grads(&m, &auto)) {
                        assert!(a.iter().any(|&v| v != 0.0), "{what}: {name} has a zero gradient");
                        assert_close(&format!("{what} {name}"), h, a, tol);
                    }
                    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
                    assert_close(
                        &format!("{what} embeddings"),
                        &f(&hand.embedding_grad),
                        &f(&auto.embedding_grad),
                        tol,
                    );
                }
            }
        }
    }

    /// Every weight's gradient against central differences of the loss in f64, with dropout on
    /// the embeddings and on the decoder's outputs.
    #[test]
    fn hand_pass_gradients_match_finite_differences_in_f64() {
        let b = batch();
        let p = params(true, 6);
        let loss = |p: &HashMap<String, Tensor>| -> f64 {
            let m = model(true, p, DType::F64);
            let mut d = Dropout::new(0.25, 2);
            let x = d.apply(&m.embed(&b.src_ids, b.src_len, b.batch).unwrap()).unwrap();
            let y = d.apply(&m.embed(&b.decoder_ids, b.tgt_len, b.batch).unwrap()).unwrap();
            let mask = m.source_mask(&b).unwrap();
            let state = m.encode_embedded(&x, mask.as_deref(), &mut NoTrace).unwrap();
            let hidden = d.apply_at(0.4, &m.decode_hidden(&state, &y, &mut NoTrace).unwrap()).unwrap();
            m.reconstruction_loss(&hidden, &b.targets).unwrap().to_scalar::<f64>().unwrap()
        };
        let m = model(true, &p, DType::F64);
        let g = m.training_gradients_with(TrainingPass::Hand, &b, Some(&mut Dropout::new(0.25, 2)), 0.4).unwrap();
        let eps = 1e-6;
        for (name, values) in grads(&m, &g) {
            let base = p[&name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (k, &a) in values.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v: Vec<f64> = base.iter().map(|&x| x as f64).collect();
                    v[k] += delta;
                    let mut q = p.clone();
                    q.insert(name.clone(), Tensor::from_vec(v, p[&name].shape(), &Device::Cpu).unwrap());
                    loss(&q)
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!((a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()), "{name}[{k}]: {a} vs {numeric}");
            }
        }
    }
}
