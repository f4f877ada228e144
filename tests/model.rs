//! The classifiers against hand-computed cases, finite differences and one-at-a-time runs.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::VarBuilder;
use salient::data::{Batch, Task};
use salient::model::{
    Arch, CellKind, Classifier, ClassifierConfig, Direction, Gate, NoTrace, Site, SiteKind, Trace, TraceRequest,
};

const ARCHS: &[Arch] = &Arch::ALL;

fn config(arch: Arch) -> ClassifierConfig {
    ClassifierConfig { arch, task: Task::Fine.into(), vocab_size: 12, embedding_dim: 4, hidden_dim: 3 }
}

fn model(arch: Arch, dtype: DType, seed: u64) -> Classifier {
    let cfg = config(arch);
    // Larger weights than training's init, so that every gate and state matters.
    let params = cfg.init_parameters(seed, 0.8, &Device::Cpu).unwrap();
    let params: HashMap<String, Tensor> = params.into_iter().map(|(k, v)| (k, v.to_dtype(dtype).unwrap())).collect();
    Classifier::load(VarBuilder::from_tensors(params, dtype, &Device::Cpu), cfg).unwrap()
}

fn logits_of(m: &Classifier, seqs: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let b = Batch::from_sequences(seqs, Vec::new());
    m.forward(&b, &mut NoTrace).unwrap().to_vec2::<f32>().unwrap()
}

#[test]
fn padded_batch_matches_one_sentence_at_a_time() {
    let seqs = vec![vec![2, 3, 4, 5, 6], vec![7], vec![8, 9, 10], vec![11, 2]];
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 7);
        let batched = logits_of(&m, &seqs);
        for (i, s) in seqs.iter().enumerate() {
            let alone = logits_of(&m, std::slice::from_ref(s));
            for (a, b) in batched[i].iter().zip(&alone[0]) {
                assert!((a - b).abs() < 1e-5, "{arch}: row {i}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn padding_changes_nothing_and_padding_tokens_get_no_gradient() {
    // Row 0 is padded by 3; its gradient at the padded positions must be exactly zero.
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 3);
        let b = Batch::from_sequences(&[vec![4, 5], vec![6, 7, 8, 9, 10]], Vec::new());
        let x = Var::from_tensor(&m.embed(&b).unwrap()).unwrap();
        let mask = m.mask(&b).unwrap();
        let logits = m.forward_embedded(x.as_tensor(), mask.as_ref(), None, &mut NoTrace).unwrap();
        let grads = logits.narrow(1, 2, 1).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(x.as_tensor()).unwrap().to_vec3::<f32>().unwrap();
        for t in 0..3 {
            assert!(g[0][t].iter().all(|&v| v == 0.0), "{arch}: gradient leaked into padding at {t}");
        }
        assert!(g[0][3].iter().any(|&v| v != 0.0), "{arch}: real tokens get a gradient");
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A 1-d tanh RNN and a 1-d LSTM over two steps, computed by hand.
#[test]
fn tiny_models_match_hand_computation() {
    let dev = Device::Cpu;
    let t = |v: &[f64], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let emb = [0.0, 0.0, 0.5, -1.0]; // ids 2 and 3 embed to 0.5 and -1.0
                                     // Tanh RNN: h1 = tanh(0.7*0.5 + 0.1 + 0.2), h2 = tanh(0.7*(-1) + 0.1 + 0.2 + 0.3*h1).
    let mut p = HashMap::new();
    p.insert("embedding.weight".to_string(), t(&emb, &[4, 1]));
    p.insert("encoder.weight_ih_l0".to_string(), t(&[0.7], &[1, 1]));
    p.insert("encoder.weight_hh_l0".to_string(), t(&[0.3], &[1, 1]));
    p.insert("encoder.bias_ih_l0".to_string(), t(&[0.1], &[1]));
    p.insert("encoder.bias_hh_l0".to_string(), t(&[0.2], &[1]));
    p.insert("classifier.weight".to_string(), t(&[1.0, -2.0], &[2, 1]));
    p.insert("classifier.bias".to_string(), t(&[0.0, 0.5], &[2]));
    let cfg =
        ClassifierConfig { arch: Arch::RNN, task: Task::Binary.into(), vocab_size: 4, embedding_dim: 1, hidden_dim: 1 };
    let m = Classifier::load(VarBuilder::from_tensors(p, DType::F64, &dev), cfg.clone()).unwrap();
    let x = t(&[0.5, -1.0], &[1, 2, 1]);
    let logits = m.forward_embedded(&x, None, None, &mut NoTrace).unwrap().to_vec2::<f64>().unwrap();
    let h1 = (0.7f64 * 0.5 + 0.3).tanh();
    let h2 = (0.7f64 * -1.0 + 0.3 + 0.3 * h1).tanh();
    assert!((logits[0][0] - h2).abs() < 1e-12);
    assert!((logits[0][1] - (-2.0 * h2 + 0.5)).abs() < 1e-12);

    // LSTM, gates i f g o with weights w_ih = [1, 2, 3, 4], w_hh = [0.5, -0.5, 1, 0.25], biases 0.
    let mut p = HashMap::new();
    p.insert("embedding.weight".to_string(), t(&emb, &[4, 1]));
    p.insert("encoder.weight_ih_l0".to_string(), t(&[1.0, 2.0, 3.0, 4.0], &[4, 1]));
    p.insert("encoder.weight_hh_l0".to_string(), t(&[0.5, -0.5, 1.0, 0.25], &[4, 1]));
    p.insert("encoder.bias_ih_l0".to_string(), t(&[0.0; 4], &[4]));
    p.insert("encoder.bias_hh_l0".to_string(), t(&[0.0; 4], &[4]));
    p.insert("classifier.weight".to_string(), t(&[1.0, 0.0], &[2, 1]));
    p.insert("classifier.bias".to_string(), t(&[0.0, 0.0], &[2]));
    let cfg = ClassifierConfig { arch: Arch::LSTM, ..cfg };
    let m = Classifier::load(VarBuilder::from_tensors(p, DType::F64, &dev), cfg).unwrap();
    let mut trace = Trace::new(TraceRequest::all());
    let logits = m.forward_embedded(&x, None, None, &mut trace).unwrap().to_vec2::<f64>().unwrap();
    let (mut h, mut c) = (0.0f64, 0.0f64);
    let mut forgets = Vec::new();
    for xv in [0.5f64, -1.0] {
        let (i, f, g, o) =
            (sigmoid(xv + 0.5 * h), sigmoid(2.0 * xv - 0.5 * h), (3.0 * xv + h).tanh(), sigmoid(4.0 * xv + 0.25 * h));
        c = f * c + i * g;
        h = o * c.tanh();
        forgets.push(f);
    }
    assert!((logits[0][0] - h).abs() < 1e-12, "{} vs {h}", logits[0][0]);
    let cell = trace.get(Site::Cell { direction: Direction::Forward, position: 1 }).unwrap().to_vec2::<f64>().unwrap();
    assert!((cell[0][0] - c).abs() < 1e-12);
    let f = trace.steps(SiteKind::Gates, Direction::Forward, Some(Gate::Forget)).unwrap().unwrap();
    let f = f.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    assert!((f[0] - forgets[0]).abs() < 1e-12 && (f[1] - forgets[1]).abs() < 1e-12);
}

/// d logit_c / d embeddings against central differences, in f64, for every architecture.
#[test]
fn embedding_gradients_match_finite_differences() {
    for &arch in ARCHS {
        let m = model(arch, DType::F64, 11);
        let b = Batch::from_sequences(&[vec![2, 3, 4], vec![5, 6, 7, 8]], Vec::new());
        let mask = m.mask(&b).unwrap();
        let x0 = m.embed(&b).unwrap().to_dtype(DType::F64).unwrap();
        let score = |x: &Tensor| -> Tensor {
            let logits = m.forward_embedded(x, mask.as_ref(), None, &mut NoTrace).unwrap();
            // A mix of classes and of rows, through a log-softmax, to exercise everything.
            let lp = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap();
            (lp.narrow(1, 1, 1).unwrap().sum_all().unwrap() + logits.narrow(1, 3, 1).unwrap().sum_all().unwrap())
                .unwrap()
        };
        let x = Var::from_tensor(&x0).unwrap();
        let grad = score(x.as_tensor())
            .backward()
            .unwrap()
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let flat = x0.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let eps = 1e-6;
        for k in 0..flat.len() {
            let mut plus = flat.clone();
            plus[k] += eps;
            let mut minus = flat.clone();
            minus[k] -= eps;
            let f = |v: Vec<f64>| {
                score(&Tensor::from_vec(v, x0.shape(), &Device::Cpu).unwrap()).to_scalar::<f64>().unwrap()
            };
            let numeric = (f(plus) - f(minus)) / (2.0 * eps);
            assert!(
                (numeric - grad[k]).abs() < 1e-7 * (1.0 + numeric.abs()),
                "{arch} element {k}: analytic {} numeric {numeric}",
                grad[k]
            );
        }
    }
}

#[test]
fn trace_hands_out_every_intermediate_value() {
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 5);
        let b = Batch::from_sequences(&[vec![2, 3, 4, 5]], Vec::new());
        let mut trace = Trace::new(TraceRequest::all());
        let logits = m.forward(&b, &mut trace).unwrap();
        assert_eq!(trace.embeddings().unwrap().dims(), &[1, 4, 4]);
        let fwd = trace.steps(SiteKind::Hidden, Direction::Forward, None).unwrap().unwrap();
        assert_eq!(fwd.dims(), &[1, 4, 3]);
        let repr = trace.representation().unwrap().to_vec2::<f32>().unwrap();
        let last = fwd.get(0).unwrap().get(3).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(&repr[0][..3], last.as_slice(), "{arch}: representation starts with the last forward state");
        if arch.bidirectional {
            let bwd = trace.steps(SiteKind::Hidden, Direction::Backward, None).unwrap().unwrap();
            let first = bwd.get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(&repr[0][3..], first.as_slice(), "backward half is the state at position 0");
        } else {
            assert_eq!(repr[0].len(), 3);
        }
        for &gate in arch.cell.gates() {
            for &d in arch.directions() {
                let g = trace.steps(SiteKind::Gates, d, Some(gate)).unwrap();
                assert_eq!(g.map(|g| g.dims().to_vec()), Some(vec![1, 4, 3]), "{arch}: {gate:?} {d:?}");
            }
        }
        let gates = trace.records().iter().filter(|(site, _)| site.kind() == SiteKind::Gates).count();
        assert_eq!(gates, arch.cell.gates().len() * arch.directions().len() * 4, "{arch}: one value per gate and step");
        let cells = trace.records().iter().filter(|(site, _)| site.kind() == SiteKind::Cell).count();
        assert_eq!(cells > 0, arch.cell == CellKind::Lstm, "{arch}: only the LSTM has a cell state");
        assert_eq!(trace.logits().unwrap().to_vec2::<f32>().unwrap(), logits.to_vec2::<f32>().unwrap());
        // Nothing is recorded unless asked.
        let mut empty = Trace::new(TraceRequest { logits: true, ..Default::default() });
        m.forward(&b, &mut empty).unwrap();
        assert_eq!(empty.records().len(), 1);
    }
}

/// A GRU over three steps against an independent f64 computation of PyTorch's `nn.GRU` (gate
/// order r, z, n, `b_hn` inside the reset product), and against candle-nn's own GRU on the same
/// weights; the trace reports its reset, update and candidate gates.
#[test]
fn gru_matches_an_independent_computation_and_reports_its_gates() {
    let dev = Device::Cpu;
    let (dim, hid) = (3usize, 2usize);
    let t = |v: &[f64], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let val = |k: usize| ((k * 7 + 3) % 11) as f64 / 4.0 - 1.25; // in [-1.25, 1.25], exact in f32
    let w_ih: Vec<f64> = (0..3 * hid * dim).map(val).collect();
    let w_hh: Vec<f64> = (0..3 * hid * hid).map(|k| val(k + 40)).collect();
    let b_ih: Vec<f64> = (0..3 * hid).map(|k| val(k + 80) / 2.0).collect();
    let b_hh: Vec<f64> = (0..3 * hid).map(|k| val(k + 90) / 2.0).collect();
    let emb: Vec<f64> = (0..5 * dim).map(|k| val(k + 100)).collect();
    let mut p = HashMap::new();
    p.insert("embedding.weight".to_string(), t(&emb, &[5, dim]));
    p.insert("encoder.weight_ih_l0".to_string(), t(&w_ih, &[3 * hid, dim]));
    p.insert("encoder.weight_hh_l0".to_string(), t(&w_hh, &[3 * hid, hid]));
    p.insert("encoder.bias_ih_l0".to_string(), t(&b_ih, &[3 * hid]));
    p.insert("encoder.bias_hh_l0".to_string(), t(&b_hh, &[3 * hid]));
    p.insert("classifier.weight".to_string(), t(&[1.0, 0.0, 0.0, 1.0], &[2, hid]));
    p.insert("classifier.bias".to_string(), t(&[0.0, 0.0], &[2]));
    const GRU: Arch = Arch { cell: CellKind::Gru, bidirectional: false };
    let cfg =
        ClassifierConfig { arch: GRU, task: Task::Binary.into(), vocab_size: 5, embedding_dim: dim, hidden_dim: hid };
    let vb = VarBuilder::from_tensors(p, DType::F64, &dev);
    let m = Classifier::load(vb.clone(), cfg).unwrap();
    let ids = [2usize, 4, 3];
    let mut trace = Trace::new(TraceRequest::all());
    let b = Batch::from_sequences(&[ids.iter().map(|&i| i as u32).collect::<Vec<_>>()], Vec::new());
    let x = m.embed(&b).unwrap().to_dtype(DType::F64).unwrap();
    let logits = m.forward_embedded(&x, None, None, &mut trace).unwrap().to_vec2::<f64>().unwrap();

    // By hand: row j of gate block g is w[(g * hid + j) * cols ..].
    let dot =
        |w: &[f64], row: usize, v: &[f64]| -> f64 { v.iter().enumerate().map(|(k, x)| w[row * v.len() + k] * x).sum() };
    let mut h = vec![0.0f64; hid];
    let mut gates = Vec::new(); // per step: (r, z, n)
    for &id in &ids {
        let x = &emb[id * dim..(id + 1) * dim];
        let pre = |g: usize, j: usize| dot(&w_ih, g * hid + j, x) + b_ih[g * hid + j];
        let rec = |g: usize, j: usize, h: &[f64]| dot(&w_hh, g * hid + j, h) + b_hh[g * hid + j];
        let r: Vec<f64> = (0..hid).map(|j| sigmoid(pre(0, j) + rec(0, j, &h))).collect();
        let z: Vec<f64> = (0..hid).map(|j| sigmoid(pre(1, j) + rec(1, j, &h))).collect();
        let n: Vec<f64> = (0..hid).map(|j| (pre(2, j) + r[j] * rec(2, j, &h)).tanh()).collect();
        h = (0..hid).map(|j| (1.0 - z[j]) * n[j] + z[j] * h[j]).collect();
        gates.push((r, z, n));
    }
    for j in 0..hid {
        assert!((logits[0][j] - h[j]).abs() < 1e-12, "unit {j}: {} vs {}", logits[0][j], h[j]);
    }
    for (gate, pick) in [(Gate::Reset, 0), (Gate::Update, 1), (Gate::Candidate, 2)] {
        let got = trace.steps(SiteKind::Gates, Direction::Forward, Some(gate)).unwrap().unwrap();
        let got = got.get(0).unwrap().to_vec2::<f64>().unwrap();
        for (step, (r, z, n)) in gates.iter().enumerate() {
            let want = [r, z, n][pick];
            for j in 0..hid {
                assert!((got[step][j] - want[j]).abs() < 1e-12, "{gate:?} step {step} unit {j}");
            }
        }
    }
    assert!(trace.steps(SiteKind::Gates, Direction::Forward, Some(Gate::Forget)).unwrap().is_none());

    // candle-nn's GRU, loaded from the same weights by the same names.
    use candle_nn::rnn::{gru, GRUConfig, RNN};
    let reference = gru(dim, hid, GRUConfig::default(), vb.pp("encoder")).unwrap();
    let states = reference.seq(&x).unwrap();
    let ours = trace.steps(SiteKind::Hidden, Direction::Forward, None).unwrap().unwrap();
    let ours = ours.get(0).unwrap().to_vec2::<f64>().unwrap();
    for (step, s) in states.iter().enumerate() {
        let theirs = s.h().get(0).unwrap().to_vec1::<f64>().unwrap();
        for j in 0..hid {
            assert!(
                (ours[step][j] - theirs[j]).abs() < 1e-12,
                "step {step} unit {j}: {} vs {}",
                ours[step][j],
                theirs[j]
            );
        }
    }
}

/// The hand-written CPU pass against candle's autograd on the same f32 model, for every cell
/// kind and direction, on a padded batch, with a score that mixes classes through a softmax.
#[test]
fn hand_pass_equals_autograd_on_padded_batches() {
    for &arch in ARCHS {
        let m = model(arch, DType::F32, 17);
        assert_eq!(m.hand_pass(), Ok(()));
        let b = Batch::from_sequences(&[vec![4, 5], vec![6, 7, 8, 9, 10], vec![11], vec![2, 3, 2]], Vec::new());
        let x = m.embed(&b).unwrap();
        let mask = m.mask(&b).unwrap();
        let score = |logits: &Tensor| -> salient::Result<Tensor> {
            let lp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
            Ok((lp.narrow(1, 1, 1)?.squeeze(1)? + logits.narrow(1, 3, 1)?.squeeze(1)?.exp()?)?)
        };
        let hand = m.input_gradient(&x, mask.as_ref(), &mut |l| score(l)).unwrap();
        let auto = m.input_gradient_autograd(&x, mask.as_ref(), &mut |l| score(l)).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (what, a, b) in [
            ("logits", flat(&hand.logits), flat(&auto.logits)),
            ("scores", flat(&hand.scores), flat(&auto.scores)),
            ("gradient", flat(&hand.grad), flat(&auto.grad)),
        ] {
            assert_eq!(a.len(), b.len());
            for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{arch} {what} {k}: hand {x} vs autograd {y}");
            }
        }
        // Padding gets exactly zero; real tokens get something.
        let g = hand.grad.to_vec3::<f32>().unwrap();
        for (t, row) in g[0].iter().take(3).enumerate() {
            assert!(row.iter().all(|&v| v == 0.0), "{arch}: gradient leaked into padding at {t}");
        }
        assert!(g[0][3].iter().any(|&v| v != 0.0));
    }
}

#[test]
fn architectures_read_and_write_their_config_names() {
    let names: Vec<String> = Arch::ALL.iter().map(|a| a.to_string()).collect();
    assert_eq!(names, ["rnn", "birnn", "lstm", "bilstm", "gru", "bigru"]);
    for a in Arch::ALL {
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        assert_eq!(serde_json::from_str::<Arch>(&format!("\"{a}\"")).unwrap(), a);
    }
    assert_eq!("bilstm".parse::<Arch>().unwrap(), Arch { cell: CellKind::Lstm, bidirectional: true });
    let e = "transformer".parse::<Arch>().unwrap_err().to_string();
    assert!(e.contains("`transformer`") && e.contains("bigru"), "{e}");
    assert!(serde_json::from_str::<Arch>("\"lstm2\"").is_err());
}
