//! Attribution methods against finite differences, a model worked out by hand, completeness,
//! and one-sentence-at-a-time runs.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use salient::checkpoint::ModelSource;
use salient::data::{Batch, Sentence, Task, Vocab};
use salient::explain::{
    build_method, class_scores, embed, Attribution, Baseline, ClassChoice, Explainer, MethodParams, ScoreKind, Target,
};
use salient::model::{Arch, CellKind, Classifier, ClassifierConfig, NoTrace, Unsupported};

const ARCHS: &[Arch] = &Arch::ALL;
const SCORES: [ScoreKind; 4] = [ScoreKind::Logit, ScoreKind::Prob, ScoreKind::Paper, ScoreKind::Logprob];

fn model(arch: Arch, dtype: DType, seed: u64) -> Classifier {
    let cfg = ClassifierConfig { arch, task: Task::Fine.into(), vocab_size: 12, embedding_dim: 4, hidden_dim: 3 };
    // Larger weights than training's init, so that every gate and state matters.
    let params = cfg.init_parameters(seed, 0.8, &Device::Cpu).unwrap();
    let params: HashMap<String, Tensor> = params.into_iter().map(|(k, v)| (k, v.to_dtype(dtype).unwrap())).collect();
    Classifier::load(VarBuilder::from_tensors(params, dtype, &Device::Cpu), cfg).unwrap()
}

fn sentence(id: usize, ids: &[u32]) -> Sentence {
    Sentence {
        id,
        text: format!("s{id}"),
        ids: ids.to_vec(),
        tokens: ids.iter().map(|i| format!("t{i}")).collect(),
        words: ids.iter().map(|i| format!("w{i}")).collect(),
    }
}

fn sentences() -> Vec<Sentence> {
    [vec![2, 3, 4, 5, 6], vec![7], vec![8, 9, 10], vec![11, 2], vec![3, 3, 3, 4]]
        .iter()
        .enumerate()
        .map(|(i, ids)| sentence(i + 1, ids))
        .collect()
}

fn explain(m: &Classifier, method: &str, params: &MethodParams, target: Target, batch: usize) -> Vec<Attribution> {
    let method = build_method(method, params).unwrap();
    Explainer::new(m, ModelSource::in_memory())
        .batch_size(batch)
        .attribute(method.as_ref(), &sentences(), &target, &mut |_| {})
        .unwrap()
}

/// `S_c` of one sentence as a function of its embeddings, in f64.
fn score_at(m: &Classifier, x: &[f64], len: usize, class: usize, kind: ScoreKind) -> f64 {
    let x = Tensor::from_slice(x, (1, len, 4), &Device::Cpu).unwrap();
    let logits = m.forward_embedded(&x, None, None, &mut NoTrace).unwrap();
    class_scores(&logits, &[class], kind).unwrap().to_vec1::<f64>().unwrap()[0]
}

/// Central differences of `S_c` with respect to every embedding value of `s`.
fn numeric_gradient(m: &Classifier, s: &Sentence, class: usize, kind: ScoreKind) -> (Vec<f64>, Vec<f64>) {
    let b = Batch::from_sequences(&[s.ids.clone()], Vec::new());
    let x0 = embed(m, &b).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    let grad = (0..x0.len())
        .map(|k| {
            let (mut plus, mut minus) = (x0.clone(), x0.clone());
            plus[k] += eps;
            minus[k] -= eps;
            (score_at(m, &plus, s.len(), class, kind) - score_at(m, &minus, s.len(), class, kind)) / (2.0 * eps)
        })
        .collect();
    (grad, x0)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// `grad` and `grad-input`, run in padded batches, against central differences in f64, for
/// every architecture, every score and both a fixed and the predicted class.
#[test]
fn gradients_match_finite_differences_for_every_architecture_and_score() {
    for &arch in ARCHS {
        let m = model(arch, DType::F64, 11);
        for kind in SCORES {
            for class in [ClassChoice::Fixed(3), ClassChoice::Predicted] {
                let target = Target { class, score: kind };
                let grad = explain(&m, "grad", &MethodParams::default(), target, 8);
                let times = explain(&m, "grad-input", &MethodParams::default(), target, 8);
                for ((s, g), gi) in sentences().iter().zip(&grad).zip(&times) {
                    assert_eq!(g.class, gi.class);
                    if class == ClassChoice::Fixed(3) {
                        assert_eq!(g.class, 3);
                    } else {
                        assert_eq!(g.class, g.predicted);
                    }
                    let (numeric, x) = numeric_gradient(&m, s, g.class, kind);
                    let full = score_at(&m, &x, s.len(), g.class, kind);
                    assert!(close(g.score.unwrap(), full, 1e-6), "{arch} {kind}: score {:?} vs {full}", g.score);
                    let analytic: Vec<f64> = g.matrix.iter().flatten().map(|&v| v as f64).collect();
                    let signed: Vec<f64> = gi.matrix.iter().flatten().map(|&v| v as f64).collect();
                    for k in 0..numeric.len() {
                        assert!(
                            close(analytic[k], numeric[k].abs(), 1e-5),
                            "{arch} {kind} sentence {} element {k}: |grad| {} vs numeric {}",
                            s.id,
                            analytic[k],
                            numeric[k]
                        );
                        assert!(
                            close(signed[k], numeric[k] * x[k], 1e-5),
                            "{arch} {kind} sentence {} element {k}: grad x input {} vs {}",
                            s.id,
                            signed[k],
                            numeric[k] * x[k]
                        );
                    }
                    // Per-token scores: the L2 norm of the gradient, the sum of gradient x input.
                    for (t, row) in numeric.chunks(4).enumerate() {
                        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                        assert!(close(g.token_scores[t] as f64, norm, 1e-5));
                        let dot: f64 = row.iter().zip(&x[t * 4..t * 4 + 4]).map(|(a, b)| a * b).sum();
                        assert!(close(gi.token_scores[t] as f64, dot, 1e-5));
                    }
                }
            }
        }
    }
}

/// The paper's saliency on a model small enough to do by hand.
///
/// Tanh RNN, 2-d embeddings, hidden size 1, two classes: `e(2) = (1/2, 1/2)`, `e(3) = (1, 1)`,
/// `W_ih = [1, -1]`, `W_hh = [1/2]`, no recurrent biases, output `z = (h + ln 2, -h)`.
/// For "2 3": `h1 = tanh(1/2 - 1/2) = 0`, `h2 = tanh(1 - 1 + h1/2) = 0`, so `z = (ln 2, 0)`,
/// `p = (2/3, 1/3)`, and `tanh' = 1` at both steps. By the chain rule, for class 0:
/// `dh2/de2 = (1, -1)`, `dh2/de1 = W_hh * (1, -1) = (1/2, -1/2)`, and `dS/dh2` is
/// - logit `z0`: `1`;
/// - paper `exp(z0)`: `exp(ln 2) = 2`;
/// - prob `p0`: `p0 (1 - p0) * 1 + p0 p1 * 1 = 2/9 + 2/9 = 4/9` (since `dz1/dh2 = -1`);
/// - logprob `log p0`: `(1 - p0) + p1 = 2/3`.
#[test]
fn saliency_of_a_tiny_model_worked_out_by_hand() {
    let dev = Device::Cpu;
    let t = |v: &[f64], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let mut p = HashMap::new();
    p.insert("embedding.weight".to_string(), t(&[0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0], &[4, 2]));
    p.insert("encoder.weight_ih_l0".to_string(), t(&[1.0, -1.0], &[1, 2]));
    p.insert("encoder.weight_hh_l0".to_string(), t(&[0.5], &[1, 1]));
    p.insert("encoder.bias_ih_l0".to_string(), t(&[0.0], &[1]));
    p.insert("encoder.bias_hh_l0".to_string(), t(&[0.0], &[1]));
    p.insert("classifier.weight".to_string(), t(&[1.0, -1.0], &[2, 1]));
    p.insert("classifier.bias".to_string(), t(&[2f64.ln(), 0.0], &[2]));
    let cfg =
        ClassifierConfig { arch: Arch::RNN, task: Task::Binary.into(), vocab_size: 4, embedding_dim: 2, hidden_dim: 1 };
    let m = Classifier::load(VarBuilder::from_tensors(p, DType::F64, &dev), cfg).unwrap();
    let s = [sentence(1, &[2, 3])];
    let run = |method: &str, score| {
        let method = build_method(method, &MethodParams::default()).unwrap();
        let target = Target { class: ClassChoice::Fixed(0), score };
        Explainer::new(&m, ModelSource::in_memory())
            .attribute(method.as_ref(), &s, &target, &mut |_| {})
            .unwrap()
            .remove(0)
    };
    for (score, ds_dh2, s_value) in [
        (ScoreKind::Logit, 1.0, 2f64.ln()),
        (ScoreKind::Paper, 2.0, 2.0),
        (ScoreKind::Prob, 4.0 / 9.0, 2.0 / 3.0),
        (ScoreKind::Logprob, 2.0 / 3.0, (2.0f64 / 3.0).ln()),
    ] {
        let a = run("grad", score);
        let (g1, g2) = (0.5 * ds_dh2, ds_dh2);
        let expected = [[g1, g1], [g2, g2]];
        for (row, want) in a.matrix.iter().zip(expected) {
            for (v, w) in row.iter().zip(want) {
                assert!((*v as f64 - w).abs() < 1e-6, "{score}: {:?} vs {expected:?}", a.matrix);
            }
        }
        let norms = [g1 * 2f64.sqrt(), g2 * 2f64.sqrt()];
        for (v, w) in a.token_scores.iter().zip(norms) {
            assert!((*v as f64 - w).abs() < 1e-6, "{score}: token scores {:?} vs {norms:?}", a.token_scores);
        }
        assert!((a.score.unwrap() - s_value).abs() < 1e-9);
        // Gradient x input: e1 * dS/de1 = (1/2)(g1, -g1), e2 * dS/de2 = (g2, -g2).
        let gi = run("grad-input", score);
        let want = [[0.5 * g1, -0.5 * g1], [g2, -g2]];
        for (row, w) in gi.matrix.iter().zip(want) {
            assert!((row[0] as f64 - w[0]).abs() < 1e-6 && (row[1] as f64 - w[1]).abs() < 1e-6, "{:?}", gi.matrix);
        }
        assert!(gi.token_scores.iter().all(|v| v.abs() < 1e-6), "each token's terms cancel");
    }
    // Variance: the mean embedding is (3/4, 3/4); each token is 1/4 away in each dimension.
    let v = run("variance", ScoreKind::Logit);
    assert_eq!(v.matrix, vec![vec![0.0625, 0.0625], vec![0.0625, 0.0625]]);
    assert_eq!(v.token_scores, vec![0.125, 0.125]);
    assert_eq!(v.score, None);
    // Erasure: removing either word leaves a sentence whose state is tanh(0) = 0, as before.
    let e = run("erasure", ScoreKind::Logprob);
    assert!(e.token_scores.iter().all(|v| v.abs() < 1e-9), "{:?}", e.token_scores);
}

/// Integrated gradients add up to `S(x) - S(baseline)`, more closely with more steps.
#[test]
fn integrated_gradients_are_complete() {
    for &arch in ARCHS {
        let m = model(arch, DType::F64, 5);
        for baseline in [Baseline::Zero, Baseline::Pad] {
            for kind in [ScoreKind::Logit, ScoreKind::Prob] {
                let target = Target { class: ClassChoice::Predicted, score: kind };
                let run = |steps| explain(&m, "ig", &MethodParams { steps, baseline, ..Default::default() }, target, 8);
                let coarse = run(4);
                let fine = run(300);
                for (c, f) in coarse.iter().zip(&fine) {
                    let (cc, fc) = (c.completeness.unwrap(), f.completeness.unwrap());
                    let sum: f64 = f.token_scores.iter().map(|&v| v as f64).sum();
                    assert!((sum - fc.sum).abs() < 1e-6 * (1.0 + sum.abs()), "reported sum is the attributions' sum");
                    assert!((cc.delta - fc.delta).abs() < 1e-12, "the score difference does not depend on steps");
                    assert!(
                        fc.error < 1e-4 * (1.0 + fc.delta.abs()),
                        "{arch} {baseline:?} {kind}: 300 steps leave error {} of delta {}",
                        fc.error,
                        fc.delta
                    );
                    assert!(fc.error <= cc.error + 1e-9, "more steps, smaller error: {} vs {}", fc.error, cc.error);
                }
                // By hand for one sentence: S(x) - S(baseline).
                let s = &sentences()[0];
                let b = Batch::from_sequences(&[s.ids.clone()], Vec::new());
                let x = embed(&m, &b).unwrap();
                let base = match baseline {
                    Baseline::Zero => x.zeros_like().unwrap(),
                    Baseline::Pad => {
                        let pad = Batch::from_sequences(&[vec![0u32; s.len()]], Vec::new());
                        embed(&m, &pad).unwrap()
                    }
                };
                let score = |x: &Tensor| {
                    let logits = m.forward_embedded(x, None, None, &mut NoTrace).unwrap();
                    class_scores(&logits, &[fine[0].class], kind).unwrap().to_vec1::<f64>().unwrap()[0]
                };
                assert!((fine[0].completeness.unwrap().delta - (score(&x) - score(&base))).abs() < 1e-9);
            }
        }
    }
}

/// Every method gives a sentence the same result in a padded batch as alone, and on two
/// threads as on one.
#[test]
fn padding_does_not_leak_batched_equals_one_at_a_time() {
    let params = MethodParams { steps: 8, samples: 6, ..Default::default() };
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 3);
        for name in salient::explain::method_names() {
            let target = Target { class: ClassChoice::Predicted, score: ScoreKind::Paper };
            let method = build_method(name, &params).unwrap();
            let run = |batch: usize, threads: usize| {
                Explainer::new(&m, ModelSource::in_memory())
                    .batch_size(batch)
                    .threads(threads)
                    .attribute(method.as_ref(), &sentences(), &target, &mut |_| {})
                    .unwrap()
            };
            let together = run(16, 1);
            let alone = run(1, 1);
            let threaded = run(2, 2);
            assert_eq!(together.len(), sentences().len());
            for ((a, b), c) in together.iter().zip(&alone).zip(&threaded) {
                assert_eq!(a.sentence, b.sentence);
                assert_eq!(a.matrix.len(), a.tokens.len());
                for (ra, rb) in a.matrix.iter().flatten().zip(b.matrix.iter().flatten()) {
                    assert!(
                        (ra - rb).abs() <= 1e-5 * (1.0 + ra.abs()),
                        "{arch} {name} sentence {}: {ra} vs {rb}",
                        a.sentence
                    );
                }
                for (ra, rc) in a.token_scores.iter().zip(&c.token_scores) {
                    assert!((ra - rc).abs() <= 1e-5 * (1.0 + ra.abs()), "{arch} {name}: threads changed {ra} to {rc}");
                }
                assert_eq!(a.class, b.class);
            }
        }
    }
}

#[test]
fn smoothgrad_is_seeded_and_noise_matters() {
    let m = model(Arch::LSTM, DType::F32, 9);
    let target = Target::default();
    let p = |seed| MethodParams { samples: 5, seed, ..Default::default() };
    let a = explain(&m, "smoothgrad", &p(1), target, 8);
    let b = explain(&m, "smoothgrad", &p(1), target, 2);
    let c = explain(&m, "smoothgrad", &p(2), target, 8);
    for (x, y) in a.iter().zip(&b) {
        for (u, v) in x.matrix.iter().flatten().zip(y.matrix.iter().flatten()) {
            assert!((u - v).abs() <= 1e-5 * (1.0 + u.abs()), "same seed, same maps, whatever the batching");
        }
    }
    assert_ne!(a[0].matrix, c[0].matrix, "another seed, other noise");
    assert_eq!(a[0].provenance.seed, Some(1));
    // Without noise SmoothGrad is the plain gradient.
    let quiet = explain(&m, "smoothgrad", &MethodParams { samples: 3, noise: 0.0, ..Default::default() }, target, 8);
    let grad = explain(&m, "grad", &MethodParams::default(), target, 8);
    for (q, g) in quiet.iter().zip(&grad) {
        for (x, y) in q.matrix.iter().flatten().zip(g.matrix.iter().flatten()) {
            assert!((x - y).abs() <= 1e-6 * (1.0 + x.abs()));
        }
    }
}

#[test]
fn erasure_is_the_drop_in_log_probability() {
    let m = model(Arch::BILSTM, DType::F64, 4);
    let target = Target { class: ClassChoice::Predicted, score: ScoreKind::Logprob };
    let a = explain(&m, "erasure", &MethodParams::default(), target, 8);
    for (s, a) in sentences().iter().zip(&a) {
        let logp = |ids: &[u32]| -> f64 {
            if ids.is_empty() {
                let bias = m.tensors().unwrap()["classifier.bias"].to_vec1::<f64>().unwrap();
                let z: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
                return ScoreKind::Logprob.of_logits(&z, a.class);
            }
            let b = Batch::from_sequences(&[ids.to_vec()], Vec::new());
            let x = embed(&m, &b).unwrap();
            let z = m.forward_embedded(&x, None, None, &mut NoTrace).unwrap().to_vec2::<f64>().unwrap().remove(0);
            let z: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            ScoreKind::Logprob.of_logits(&z, a.class)
        };
        for i in 0..s.len() {
            let mut ids = s.ids.clone();
            ids.remove(i);
            let want = logp(&s.ids) - logp(&ids);
            assert!(
                (a.token_scores[i] as f64 - want).abs() < 1e-5,
                "sentence {} word {i}: {} vs {want}",
                s.id,
                a.token_scores[i]
            );
            assert_eq!(a.matrix[i], vec![a.token_scores[i]]);
        }
    }
}

#[test]
fn results_carry_their_provenance_and_round_trip_through_json() {
    let m = model(Arch::LSTM, DType::F32, 2);
    let source = ModelSource { dir: "models/x".into(), weights_sha256: "abc".into() };
    let method = build_method("ig", &MethodParams { steps: 7, baseline: Baseline::Pad, ..Default::default() }).unwrap();
    let target = Target { class: ClassChoice::Fixed(1), score: ScoreKind::Prob };
    let a = Explainer::new(&m, source.clone()).attribute(method.as_ref(), &sentences(), &target, &mut |_| {}).unwrap();
    let p = &a[0].provenance;
    assert_eq!(p.model, source);
    assert_eq!(p.method, "ig");
    assert_eq!(p.options["steps"], 7);
    assert_eq!(p.options["baseline"], "pad");
    assert_eq!(p.score, Some(ScoreKind::Prob));
    assert_eq!(p.class, Some(ClassChoice::Fixed(1)));
    assert_eq!(a[0].class_name, "negative");
    let json = serde_json::to_string(&a).unwrap();
    let back: Vec<Attribution> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    let map = salient::figures::saliency::heatmap(&a[0]);
    assert!(map.title.contains("x · ig · S_c = p_c · class negative"), "{}", map.title);
    assert!(map.subtitle.iter().any(|l| l.contains("completeness")));
}

#[test]
fn views_show_representations_states_and_gates() {
    use salient::explain::views::{gates, representations, states};
    use salient::model::{Trace, TraceRequest};
    let source = ModelSource::in_memory();
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 6);
        let ss = sentences();
        let r = representations(&m, &source, &ss).unwrap();
        assert_eq!(r.matrix.len(), ss.len());
        assert_eq!(r.column_labels.len(), if arch.bidirectional { 6 } else { 3 });
        // Row i is sentence i's representation on its own.
        let mut trace = Trace::new(TraceRequest { representation: true, ..Default::default() });
        m.forward(&Batch::from_sequences(&[ss[2].ids.clone()], Vec::new()), &mut trace).unwrap();
        let alone = trace.representation().unwrap().to_vec2::<f32>().unwrap().remove(0);
        for (a, b) in r.matrix[2].iter().zip(&alone) {
            assert!((a - b).abs() < 1e-5);
        }
        let st = states(&m, &source, &ss[0]).unwrap();
        assert_eq!(st.matrix.len(), 5);
        assert_eq!(st.matrix[0].len(), r.column_labels.len());
        // The last forward state is the start of the representation.
        assert!((st.matrix[4][0] - r.matrix[0][0]).abs() < 1e-5);
        match gates(&m, &source, &ss[0]) {
            Ok(g) => {
                let per_direction = arch.cell.unit_gates().len();
                assert_eq!(per_direction, if arch.cell == CellKind::Lstm { 3 } else { 2 }, "{arch}");
                assert_eq!(g.len(), per_direction * arch.directions().len());
                assert!(g.iter().all(|v| v.matrix.iter().flatten().all(|&x| (0.0..=1.0).contains(&x))));
                let second = if arch.cell == CellKind::Lstm { "gate-forget-forward" } else { "gate-update-forward" };
                assert_eq!(g[1].slug(), second);
                if arch.bidirectional {
                    assert_eq!(g[per_direction].slug(), g[0].slug().replace("forward", "backward"));
                }
            }
            Err(e) => {
                assert_eq!(arch.cell, CellKind::Tanh);
                assert!(e.to_string().contains("no gates"), "{e}");
            }
        }
    }
}

#[test]
fn sentences_from_vocabulary() {
    let v = Vocab::build("i like it a lot".split(' '), true, 1).unwrap();
    let s = Sentence::from_tokens(&v, 3, &["I", "like", "zorp"]);
    assert_eq!(s.ids[2], salient::data::vocab::UNK_ID);
    assert_eq!(s.tokens, ["i", "like", "zorp"]);
}

/// The model's hand-written CPU pass (f32) computes what candle's autograd computes (on the
/// same weights in f64) for every gradient method, every cell kind and direction, every score
/// and class choice, with padding in the batch.
#[test]
fn hand_pass_equals_candle_autograd_for_every_gradient_method() {
    let params = MethodParams { steps: 6, samples: 4, ..Default::default() };
    for &arch in ARCHS {
        let fast = model(arch, DType::F32, 13);
        let slow = model(arch, DType::F64, 13);
        assert_eq!(fast.hand_pass(), Ok(()), "{arch}: f32 models on the CPU get the hand-written pass");
        assert_eq!(slow.hand_pass(), Err(Unsupported::DType(DType::F64)));
        for kind in SCORES {
            for class in [ClassChoice::Predicted, ClassChoice::Fixed(2)] {
                for name in ["grad", "grad-input", "ig", "smoothgrad"] {
                    let target = Target { class, score: kind };
                    let (f, s) = (explain(&fast, name, &params, target, 16), explain(&slow, name, &params, target, 16));
                    for (f, s) in f.iter().zip(&s) {
                        assert_eq!((f.class, f.predicted), (s.class, s.predicted));
                        let (fs, ss) = (f.score.unwrap(), s.score.unwrap());
                        assert!((fs - ss).abs() <= 1e-5 * (1.0 + ss.abs()), "{arch} {kind} {name}: score {fs} vs {ss}");
                        assert_eq!(f.matrix.len(), s.matrix.len());
                        for (a, b) in f.matrix.iter().flatten().zip(s.matrix.iter().flatten()) {
                            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{arch} {kind} {name}: {a} vs {b}");
                        }
                        for (a, b) in f.probabilities.iter().zip(&s.probabilities) {
                            assert!((a - b).abs() <= 1e-5);
                        }
                    }
                }
            }
        }
    }
}
