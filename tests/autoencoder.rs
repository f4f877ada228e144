//! The LSTM autoencoder: its forward pass against a hand-written one, its saliency against
//! finite differences, training (learns, reproducible, resumes exactly) and the CLI.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use salient::checkpoint::load_autoencoder;
use salient::data::vocab::{BOS_ID, EOS_ID};
use salient::data::PairBatch;
use salient::explain::autoencoder::{jacobian, output_scores};
use salient::explain::ScoreKind;
use salient::model::{Autoencoder, AutoencoderConfig, NoTrace};
use salient::train::autoencoder::{train_autoencoder, AutoencoderOptions, InitFrom};

mod common;

fn tiny_config(reverse_input: bool) -> AutoencoderConfig {
    AutoencoderConfig { vocab_size: 9, embedding_dim: 3, hidden_dim: 4, max_len: 6, reverse_input }
}

fn tiny_model(config: AutoencoderConfig, seed: u64, dtype: DType) -> (Autoencoder, HashMap<String, Tensor>) {
    let mut tensors = config.init_parameters(seed, 0.6, &Device::Cpu).unwrap();
    // Non-zero biases everywhere, so that the reference computation checks them too.
    for (name, t) in tensors.iter_mut() {
        if name.contains("bias") {
            let n = t.elem_count();
            let v: Vec<f32> = (0..n).map(|i| ((i * 7 + name.len()) % 11) as f32 / 20.0 - 0.25).collect();
            *t = Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap();
        }
    }
    let tensors: HashMap<String, Tensor> = tensors.into_iter().map(|(k, v)| (k, v.to_dtype(dtype).unwrap())).collect();
    let model = Autoencoder::load(VarBuilder::from_tensors(tensors.clone(), dtype, &Device::Cpu), config).unwrap();
    (model, tensors)
}

fn mat(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap()
}

fn vec1(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One LSTM step written out by hand (PyTorch gate order i, f, g, o).
fn lstm_step(w: &HashMap<String, Tensor>, prefix: &str, x: &[f64], h: &[f64], c: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let name = |p: &str| {
        let plain = format!("{prefix}.{p}_l0");
        if w.contains_key(&plain) {
            plain
        } else {
            format!("{plain}_reverse")
        }
    };
    let (wih, whh) = (mat(&w[&name("weight_ih")]), mat(&w[&name("weight_hh")]));
    let (bih, bhh) = (vec1(&w[&name("bias_ih")]), vec1(&w[&name("bias_hh")]));
    let hs = h.len();
    let pre: Vec<f64> = (0..4 * hs)
        .map(|r| {
            bih[r]
                + bhh[r]
                + (0..x.len()).map(|k| wih[r][k] * x[k]).sum::<f64>()
                + (0..hs).map(|k| whh[r][k] * h[k]).sum::<f64>()
        })
        .collect();
    let mut h2 = vec![0.0; hs];
    let mut c2 = vec![0.0; hs];
    for j in 0..hs {
        let (i, f, g, o) = (sigmoid(pre[j]), sigmoid(pre[hs + j]), pre[2 * hs + j].tanh(), sigmoid(pre[3 * hs + j]));
        c2[j] = f * c[j] + i * g;
        h2[j] = o * c2[j].tanh();
    }
    (h2, c2)
}

/// Teacher-forced logits of one sentence, computed by hand.
fn reference_logits(w: &HashMap<String, Tensor>, config: AutoencoderConfig, ids: &[u32]) -> Vec<Vec<f64>> {
    let emb = mat(&w["embedding.weight"]);
    let hs = config.hidden_dim;
    let (mut h, mut c) = (vec![0.0; hs], vec![0.0; hs]);
    let order: Vec<u32> = if config.reverse_input { ids.iter().rev().copied().collect() } else { ids.to_vec() };
    for id in order {
        (h, c) = lstm_step(w, "encoder", &emb[id as usize], &h, &c);
    }
    let (out_w, out_b) = (mat(&w["output.weight"]), vec1(&w["output.bias"]));
    let mut logits = Vec::new();
    let inputs: Vec<u32> = std::iter::once(BOS_ID).chain(ids.iter().copied()).collect();
    for id in inputs {
        (h, c) = lstm_step(w, "decoder", &emb[id as usize], &h, &c);
        logits.push(
            (0..config.vocab_size).map(|v| out_b[v] + (0..hs).map(|k| out_w[v][k] * h[k]).sum::<f64>()).collect(),
        );
    }
    logits
}

#[test]
fn forward_pass_matches_a_hand_written_lstm_encoder_decoder() {
    for reverse in [true, false] {
        let config = tiny_config(reverse);
        let (model, tensors) = tiny_model(config, 3, DType::F64);
        // Two sentences of different lengths in one batch: left padding must not change anything.
        let sentences: [&[u32]; 2] = [&[4, 5, 6, 7], &[8, 4]];
        let b = PairBatch::new(&sentences, &sentences);
        let logits = mat(&model.forward(&b, &mut NoTrace, &mut NoTrace).unwrap());
        for (row, ids) in sentences.iter().enumerate() {
            let expect = reference_logits(&tensors, config, ids);
            for (t, step) in expect.iter().enumerate() {
                let got = &logits[t * b.batch + row];
                for v in 0..config.vocab_size {
                    assert!(
                        (got[v] - step[v]).abs() < 1e-10,
                        "reverse {reverse}, row {row}, step {t}, token {v}: {} vs {}",
                        got[v],
                        step[v]
                    );
                }
            }
        }
        assert_eq!(b.targets[4 * 2], EOS_ID, "the first sentence ends with [EOS] after 4 tokens");
        assert_eq!(b.targets[2 * 2 + 1], EOS_ID, "the second after 2");
        assert_eq!(b.target_tokens(), 5 + 3);
    }
}

#[test]
fn saliency_gradients_match_central_differences_in_f64() {
    let config = tiny_config(true);
    let (model, _) = tiny_model(config, 11, DType::F64);
    let ids = [4u32, 6, 5];
    let outputs = [6u32, 4, 7, EOS_ID];
    for score in [ScoreKind::Logit, ScoreKind::Logprob, ScoreKind::Prob] {
        let j = jacobian(&model, &ids, &outputs, score).unwrap();
        let (n, m, d) = (ids.len(), outputs.len(), config.embedding_dim);
        assert_eq!((j.inputs, j.outputs, j.dim), (n, m, d));
        let x = model.embed(&ids, n, 1).unwrap();
        let base = vec1(&output_scores(&model, &x, &outputs, score, false).unwrap().flatten_all().unwrap());
        for (a, b) in base.iter().zip(&j.scores) {
            assert!((a - b).abs() < 1e-12, "{score:?}: the batched scores equal the plain ones");
        }
        let flat = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let eps = 1e-6;
        for k in 0..n * d {
            let shifted = |delta: f64| {
                let mut v = flat.clone();
                v[k] += delta;
                let xs = Tensor::from_vec(v, (n, 1, d), &Device::Cpu).unwrap();
                vec1(&output_scores(&model, &xs, &outputs, score, false).unwrap().flatten_all().unwrap())
            };
            let (plus, minus) = (shifted(eps), shifted(-eps));
            for t in 0..m {
                let numeric = (plus[t] - minus[t]) / (2.0 * eps);
                let analytic = j.gradients[t * n * d + k];
                assert!(
                    (numeric - analytic).abs() <= 1e-7 * (1.0 + numeric.abs()),
                    "{score:?} step {t} input {} dim {}: numeric {numeric} analytic {analytic}",
                    k / d,
                    k % d
                );
            }
        }
        // The decoder cannot see the future: but every output depends on every input (through
        // the sentence vector), so no gradient row is all zero.
        for t in 0..m {
            let row = &j.gradients[t * n * d..(t + 1) * n * d];
            assert!(row.iter().any(|v| v.abs() > 1e-9), "{score:?}: output {t} depends on the input");
        }
    }
}

/// A corpus of short sentences over a small vocabulary, in `dir`.
fn write_corpus(dir: &Path) {
    let words = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "log", "big", "red", "fast"];
    let mut lines = Vec::new();
    let mut state = 7u64;
    for i in 0..160 {
        let len = 2 + i % 4;
        let mut s = Vec::new();
        for _ in 0..len {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s.push(words[(state >> 33) as usize % words.len()]);
        }
        lines.push(s.join(" ") + " .");
    }
    std::fs::write(dir.join("train.txt"), lines[..140].join("\n") + "\n").unwrap();
    std::fs::write(dir.join("dev.txt"), lines[140..].join("\n") + "\n").unwrap();
    std::fs::write(dir.join("test.txt"), lines[140..].join("\n") + "\n").unwrap();
}

fn tiny_options() -> AutoencoderOptions {
    AutoencoderOptions {
        embedding_dim: 16,
        hidden_dim: 32,
        vocab_size: 40,
        max_len: 8,
        epochs: 25,
        batch_size: 8,
        lr: 0.03,
        patience: 25,
        ..AutoencoderOptions::default()
    }
}

#[test]
fn training_learns_is_reproducible_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let run = |out: &Path, options: AutoencoderOptions, resume: bool| {
        train_autoencoder(dir.path(), out, options, resume, &Device::Cpu, &mut |_| {}).unwrap()
    };
    let full = run(&dir.path().join("full"), tiny_options(), false);
    let first = &full.history[0];
    let best = full.best.as_ref().unwrap().1;
    assert!(
        full.history.last().unwrap().train_loss < first.train_loss * 0.3,
        "{:?}",
        full.history.iter().map(|r| r.train_loss).collect::<Vec<_>>()
    );
    assert!(best.token_accuracy > 0.75, "dev teacher-forced accuracy {}", best.token_accuracy);
    assert!(best.greedy_token_accuracy > 0.5, "dev greedy accuracy {best:?}");
    // Interrupted after 10 epochs, then resumed: the same history, bit for bit.
    let part = dir.path().join("part");
    run(&part, AutoencoderOptions { epochs: 10, ..tiny_options() }, false);
    let resumed = run(&part, tiny_options(), true);
    let scores = |h: &[salient::train::EpochRecord<salient::eval::ReconstructionScores>]| {
        h.iter().map(|r| (r.train_loss, r.dev, r.improved)).collect::<Vec<_>>()
    };
    assert_eq!(scores(&resumed.history), scores(&full.history));
    let weights = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(weights(&part), weights(&dir.path().join("full")));
    // A different seed gives different weights.
    let other = dir.path().join("other");
    run(&other, AutoencoderOptions { seed: 2, epochs: 1, ..tiny_options() }, false);
    let one = dir.path().join("one");
    run(&one, AutoencoderOptions { epochs: 1, ..tiny_options() }, false);
    assert_ne!(weights(&other), weights(&one));
    // Resuming with other options is refused, naming the difference.
    let e = train_autoencoder(
        dir.path(),
        &part,
        AutoencoderOptions { lr: 0.5, ..tiny_options() },
        true,
        &Device::Cpu,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("other options"), "{e}");
    // The saved model loads and reconstructs a training sentence.
    let loaded = load_autoencoder(&dir.path().join("full"), &Device::Cpu, DType::F32).unwrap();
    assert_eq!(loaded.card.epoch, full.best.as_ref().unwrap().0);
    let ids = loaded.vocab.encode_text("the cat sat on a mat .").unwrap().ids;
    assert!(!ids.contains(&salient::data::vocab::UNK_ID));
}

/// A run started from a trained model (`init_from`) begins where that model is, trains with
/// dropout on the decoder's outputs, resumes exactly, and is refused when its shape or the
/// model's weights differ from what it names.
#[test]
fn a_run_starts_from_a_trained_model_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let run = |out: &Path, options: AutoencoderOptions, resume: bool| {
        train_autoencoder(dir.path(), out, options, resume, &Device::Cpu, &mut |_| {})
    };
    let trained = dir.path().join("trained");
    let base = run(&trained, AutoencoderOptions { epochs: 12, ..tiny_options() }, false).unwrap();
    let base_best = base.best.unwrap().1;
    let fresh = run(&dir.path().join("fresh"), AutoencoderOptions { epochs: 1, ..tiny_options() }, false).unwrap();
    let init = InitFrom::of(&trained).unwrap();
    let warm = AutoencoderOptions {
        epochs: 2,
        lr: 0.003,
        output_dropout: 0.3,
        init_from: Some(init.clone()),
        ..tiny_options()
    };
    let whole = dir.path().join("whole");
    let started = run(&whole, warm.clone(), false).unwrap();
    let first = started.history[0].dev;
    let fresh_first = fresh.history[0].dev;
    assert!(
        first.perplexity < fresh_first.perplexity * 0.8 && first.perplexity < base_best.perplexity * 1.5,
        "one epoch from the trained model: {first:?}; from random weights: {fresh_first:?}; the trained model: {base_best:?}"
    );
    // The vocabulary is the trained model's.
    let tokenizer = |d: &Path| std::fs::read(d.join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer(&whole), tokenizer(&trained));
    // One epoch, then resumed for the second: the same weights as two in one go.
    let part = dir.path().join("part");
    run(&part, AutoencoderOptions { epochs: 1, ..warm.clone() }, false).unwrap();
    run(&part, warm.clone(), true).unwrap();
    let checkpoint = |d: &Path| std::fs::read(d.join("checkpoint").join("model.safetensors")).unwrap();
    assert_eq!(checkpoint(&part), checkpoint(&whole));
    // Output dropout changes the training.
    let plain = dir.path().join("plain");
    run(&plain, AutoencoderOptions { output_dropout: 0.0, ..warm.clone() }, false).unwrap();
    assert_ne!(checkpoint(&plain), checkpoint(&whole));
    // A shape that differs from the model's, or weights that are not the ones named, are refused.
    let e = run(&dir.path().join("wide"), AutoencoderOptions { hidden_dim: 48, ..warm.clone() }, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hidden_dim is 32 but this run's is 48"), "{e}");
    let e = run(&dir.path().join("small"), AutoencoderOptions { vocab_size: 10, ..warm.clone() }, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than this run's vocab_size of 10"), "{e}");
    let other = InitFrom { weights_sha256: "0".repeat(64), ..init };
    let e = run(&dir.path().join("other"), AutoencoderOptions { init_from: Some(other), ..warm }, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not the 0000"), "{e}");
}

#[test]
fn cli_trains_reconstructs_explains_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let model = dir.path().join("model");
    let ok = common::salient_cmd()
        .args(["autoencoder", "train", "--data"])
        .arg(dir.path())
        .arg("--out")
        .arg(&model)
        .args(["--epochs", "3", "--embedding-dim", "8", "--hidden-dim", "8", "--vocab-size", "30", "--max-len", "8"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let eval = common::salient_cmd()
        .args(["autoencoder", "eval", "--json", "--split", "test", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(v["scores"]["sentences"], 20);
    assert!(v["scores"]["perplexity"].as_f64().unwrap() > 1.0);

    let rec = common::salient_cmd()
        .args(["autoencoder", "reconstruct", "--json", "--text", "the cat sat .", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(rec.status.success(), "{}", String::from_utf8_lossy(&rec.stderr));
    let line: serde_json::Value = serde_json::from_slice(rec.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["input"], serde_json::json!(["the", "cat", "sat", "."]));

    let out = dir.path().join("saliency");
    let run = common::salient_cmd()
        .args([
            "autoencoder",
            "saliency",
            "--text",
            "the <cat> sat .",
            "--text",
            "a dog ran .",
            "--outputs",
            "reference",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("saliency.json")).unwrap()).unwrap();
    let first = &json["results"][0];
    let n_in = first["steps"][0]["tokens"].as_array().unwrap().len();
    let n_out = first["output_tokens"].as_array().unwrap().len();
    assert_eq!(n_out, n_in + 1, "reference outputs: the input and [EOS]");
    assert_eq!(first["steps"].as_array().unwrap().len(), n_out, "one attribution per output token");
    assert_eq!(first["steps"][0]["class_name"], first["output_tokens"][0], "each step explains its output token");
    assert_eq!(first["provenance"]["score"], "logit");
    let svg = std::fs::read_to_string(out.join("sentence-0001.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("the matrix figure is well-formed XML");
    assert!(svg.contains("&lt;") || svg.contains("-lrb-") || svg.contains("&amp;lt;"), "markup in words is escaped");
    for t in 1..=n_out {
        assert!(out.join(format!("sentence-0001-step-{t:02}.svg")).is_file());
    }
    // Every input word labels its column (none thinned out).
    let second = std::fs::read_to_string(out.join("sentence-0002.svg")).unwrap();
    for word in ["a", "dog", "ran"] {
        assert!(second.lines().any(|l| l.trim() == word), "column label `{word}` is drawn");
    }
    let csv = std::fs::read_to_string(out.join("matrix.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + n_in * n_out + 5 * 4, "one line per output x input pair of both sentences");
    // Running again without --force refuses to overwrite.
    let again = common::salient_cmd()
        .args(["autoencoder", "saliency", "--text", "a dog ran .", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    for (text, expect) in [
        ("   ", "empty"),
        ("zorp blargh quux", "every word is unknown"),
        ("the cat sat on the mat and the dog ran .", "more than the limit of 8"),
    ] {
        let bad = common::salient_cmd()
            .args(["autoencoder", "saliency", "--text", text, "--model"])
            .arg(&model)
            .arg("--out")
            .arg(dir.path().join("bad"))
            .output()
            .unwrap();
        assert!(!bad.status.success());
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(expect), "{text:?}: {err}");
        let rec = common::salient_cmd()
            .args(["autoencoder", "reconstruct", "--text", text, "--model"])
            .arg(&model)
            .output()
            .unwrap();
        assert!(!rec.status.success());
        assert!(String::from_utf8_lossy(&rec.stderr).contains(expect));
    }
    // A classifier directory is not an autoencoder.
    let wrong = common::salient_cmd()
        .args(["autoencoder", "reconstruct", "--text", "good", "--model", "data/models/rnn-binary"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("salient-autoencoder"));
}

#[test]
fn hooks_see_encoder_states_the_sentence_vector_and_decoder_states() {
    use salient::model::{Direction, SiteKind, Trace, TraceRequest};
    let config = tiny_config(true);
    let (model, _) = tiny_model(config, 5, DType::F32);
    let ids: [&[u32]; 1] = [&[4, 5, 6]];
    let b = PairBatch::new(&ids, &ids);
    let request = TraceRequest {
        hidden: true,
        cell: true,
        gates: true,
        representation: true,
        logits: true,
        ..Default::default()
    };
    let (mut encoder, mut decoder) = (Trace::new(request), Trace::new(request));
    let logits = model.forward(&b, &mut encoder, &mut decoder).unwrap();
    // The encoder reads right to left: its last state is at position 0, and that is the
    // sentence vector.
    let states = encoder.steps(SiteKind::Hidden, Direction::Backward, None).unwrap().unwrap();
    assert_eq!(states.dims(), &[1, 3, config.hidden_dim]);
    let first = states.get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
    let vector = encoder.representation().unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(first, vector);
    // The decoder: one state per output step (3 tokens + [EOS]) and the logits of each.
    let dec = decoder.steps(SiteKind::Hidden, Direction::Forward, None).unwrap().unwrap();
    assert_eq!(dec.dims(), &[1, 4, config.hidden_dim]);
    let traced = decoder.logits().unwrap();
    assert_eq!(traced.dims(), &[4, 1, config.vocab_size]);
    assert_eq!(
        traced.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
}

#[test]
fn beam_search_of_width_one_is_greedy_and_wider_beams_score_no_worse() {
    let config = tiny_config(true);
    let mut compared = 0;
    for seed in 0..12 {
        let (model, _) = tiny_model(config, seed, DType::F64);
        let ids = [4u32, 7, 5, 8];
        let b = PairBatch::new(&[&ids[..]], &[&ids[..]]);
        let (greedy, greedy_ended) = model.greedy(&b, config.max_len).unwrap().remove(0);
        let (one, _, one_ended) = model.beam(&ids, 1, config.max_len).unwrap();
        assert_eq!((&one, one_ended), (&greedy, greedy_ended), "seed {seed}");
        // The log-probability of an output, teacher-forced, to compare beams by.
        let log_prob = |out: &[u32], ended: bool| {
            let mut targets = out.to_vec();
            if ended {
                targets.push(EOS_ID);
            }
            let scores =
                output_scores(&model, &model.embed(&ids, ids.len(), 1).unwrap(), &targets, ScoreKind::Logprob, false)
                    .unwrap();
            vec1(&scores.flatten_all().unwrap()).iter().sum::<f64>()
        };
        let (wide, score, wide_ended) = model.beam(&ids, 4, config.max_len).unwrap();
        assert!(
            (log_prob(&wide, wide_ended) - score).abs() < 1e-9,
            "seed {seed}: beam reports its output's log-probability"
        );
        if greedy_ended && wide_ended {
            assert!(score >= log_prob(&greedy, true) - 1e-12, "seed {seed}: a wider beam finds no worse an output");
            compared += 1;
        }
    }
    assert!(compared >= 3, "only {compared} seeds ended both searches: the comparison proves little");
}

/// Teacher-forced logits of the sentence `ids` (its own reconstruction as the target).
fn logits_of(model: &Autoencoder, ids: &[u32]) -> Vec<Vec<f64>> {
    let b = PairBatch::new(&[ids], &[ids]);
    mat(&model.forward(&b, &mut NoTrace, &mut NoTrace).unwrap())
}

/// Directories written before the encoder took a one-direction `torch.nn.LSTM`'s names hold a
/// right-to-left encoder as `encoder.*_l0_reverse`: they load and compute what the new names do;
/// a file with both names is refused, naming the extra tensor.
#[test]
fn an_encoder_stored_under_the_old_reverse_names_still_loads() {
    use salient::checkpoint::{ModelFiles, AUTOENCODER_FORMAT};
    let shipped = load_autoencoder(Path::new("data/models/autoencoder"), &Device::Cpu, DType::F32).unwrap();
    assert!(shipped.model.config().reverse_input, "the shipped encoder reads right to left");
    let tensors = shipped.model.tensors().unwrap();
    let old_name = |n: &String| if n.starts_with("encoder.") { format!("{n}_reverse") } else { n.clone() };
    let old: HashMap<String, Tensor> = tensors.iter().map(|(n, t)| (old_name(n), t.clone())).collect();
    assert!(old.contains_key("encoder.weight_ih_l0_reverse") && !old.contains_key("encoder.weight_ih_l0"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, tensors: &HashMap<String, Tensor>| {
        let files =
            ModelFiles::new(tensors, &shipped.vocab, shipped.card.clone(), AUTOENCODER_FORMAT, DType::F32).unwrap();
        files.write(&dir.path().join(name)).unwrap();
        dir.path().join(name)
    };
    let loaded = load_autoencoder(&write("old", &old), &Device::Cpu, DType::F32).unwrap();
    let ids = shipped.vocab.encode_text("the film is not good").unwrap().ids;
    assert_eq!(logits_of(&loaded.model, &ids), logits_of(&shipped.model, &ids));
    let mut both = old.clone();
    both.insert("encoder.weight_ih_l0".into(), tensors["encoder.weight_ih_l0"].clone());
    let e = load_autoencoder(&write("both", &both), &Device::Cpu, DType::F32).unwrap_err().to_string();
    assert!(e.contains("encoder.weight_ih_l0_reverse"), "{e}");
}

/// The shipped autoencoder is stored as salient writes today: a one-direction LSTM's names for
/// the encoder (so `torch.nn.LSTM` loads it), and the safetensors metadata holding its
/// `config.json` but for the weights' own checksum.
#[test]
fn shipped_autoencoder_is_stored_under_pytorch_names_with_its_config() {
    use salient::checkpoint::{ModelFiles, AUTOENCODER_FORMAT, METADATA_CONFIG};
    let dir = Path::new("data/models/autoencoder");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let stored = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = stored.names();
    names.sort();
    let expected = [
        "decoder.bias_hh_l0",
        "decoder.bias_ih_l0",
        "decoder.weight_hh_l0",
        "decoder.weight_ih_l0",
        "embedding.weight",
        "encoder.bias_hh_l0",
        "encoder.bias_ih_l0",
        "encoder.weight_hh_l0",
        "encoder.weight_ih_l0",
        "output.bias",
        "output.weight",
    ];
    assert_eq!(names, expected);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().as_ref().expect("a __metadata__ entry");
    let in_weights: serde_json::Value = serde_json::from_str(&metadata[METADATA_CONFIG]).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("weights_sha256");
    assert_eq!(in_weights, config);
    // Loading and writing again (f16 -> f32 -> f16 is exact) gives the same bytes.
    let loaded = load_autoencoder(dir, &Device::Cpu, DType::F32).unwrap();
    let again =
        ModelFiles::new(&loaded.model.tensors().unwrap(), &loaded.vocab, loaded.card, AUTOENCODER_FORMAT, DType::F16)
            .unwrap();
    assert!(again.weights == bytes, "the shipped weights are not what salient writes for them");
}
