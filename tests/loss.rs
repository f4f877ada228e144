//! The fused projected cross-entropy against a hand computation, against candle's own
//! operations, and its gradients against central differences in f64.

use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use salient::model::loss::{cross_entropy, projected_cross_entropy};

const IGNORE: u32 = 0;

fn random(rng: &mut StdRng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

struct Case {
    hidden: Vec<f64>,
    weight: Vec<f64>,
    bias: Vec<f64>,
    targets: Vec<u32>,
    n: usize,
    h: usize,
    vocab: usize,
}

fn case(seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let (n, h, vocab) = (11, 5, 7);
    // Some rows ignored (target 0), the others spread over the vocabulary.
    let targets = (0..n).map(|r| if r % 4 == 1 { IGNORE } else { rng.random_range(1..vocab as u32) }).collect();
    Case {
        hidden: random(&mut rng, n * h, 1.5),
        weight: random(&mut rng, vocab * h, 1.0),
        bias: random(&mut rng, vocab, 0.5),
        targets,
        n,
        h,
        vocab,
    }
}

fn tensors(c: &Case, dtype: DType) -> (Tensor, Tensor, Tensor) {
    let d = Device::Cpu;
    (
        Tensor::from_slice(&c.hidden, (c.n, c.h), &d).unwrap().to_dtype(dtype).unwrap(),
        Tensor::from_slice(&c.weight, (c.vocab, c.h), &d).unwrap().to_dtype(dtype).unwrap(),
        Tensor::from_slice(&c.bias, c.vocab, &d).unwrap().to_dtype(dtype).unwrap(),
    )
}

/// The loss written out by hand in f64.
fn by_hand(c: &Case, hidden: &[f64], weight: &[f64], bias: &[f64]) -> f64 {
    let (mut total, mut counted) = (0.0, 0);
    for r in 0..c.n {
        if c.targets[r] == IGNORE {
            continue;
        }
        let logits: Vec<f64> = (0..c.vocab)
            .map(|j| bias[j] + (0..c.h).map(|k| hidden[r * c.h + k] * weight[j * c.h + k]).sum::<f64>())
            .collect();
        let lse = logits.iter().map(|l| l.exp()).sum::<f64>().ln();
        total += lse - logits[c.targets[r] as usize];
        counted += 1;
    }
    total / counted as f64
}

#[test]
fn loss_matches_a_hand_computation_fused_and_through_the_fallback() {
    let c = case(1);
    let expected = by_hand(&c, &c.hidden, &c.weight, &c.bias);
    // f64 and f32 run fused; f16 has no fused kernel and goes through candle's operations.
    for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5), (DType::F16, 2e-2)] {
        let (h, w, b) = tensors(&c, dtype);
        let loss = projected_cross_entropy(&h, &w, &b, &c.targets, IGNORE).unwrap();
        let got = loss.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
        assert!((got - expected).abs() < tolerance * expected.abs(), "{dtype:?}: {got} vs {expected}");
    }
}

#[test]
fn gradients_match_central_differences_in_f64() {
    let c = case(2);
    let (h, w, b) = tensors(&c, DType::F64);
    let (hv, wv, bv) = (Var::from_tensor(&h).unwrap(), Var::from_tensor(&w).unwrap(), Var::from_tensor(&b).unwrap());
    let loss = projected_cross_entropy(hv.as_tensor(), wv.as_tensor(), bv.as_tensor(), &c.targets, IGNORE).unwrap();
    let grads = loss.backward().unwrap();
    let analytic = |v: &Var| grads.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    let check = |which: usize, analytic: Vec<f64>| {
        let base = [c.hidden.clone(), c.weight.clone(), c.bias.clone()];
        assert_eq!(analytic.len(), base[which].len());
        for (i, &a) in analytic.iter().enumerate() {
            let mut plus = base.clone();
            let mut minus = base.clone();
            plus[which][i] += eps;
            minus[which][i] -= eps;
            let numeric = (by_hand(&c, &plus[0], &plus[1], &plus[2]) - by_hand(&c, &minus[0], &minus[1], &minus[2]))
                / (2.0 * eps);
            assert!((a - numeric).abs() < 1e-7 * (1.0 + numeric.abs()), "input {which} element {i}: {a} vs {numeric}");
        }
    };
    check(0, analytic(&hv));
    check(1, analytic(&wv));
    check(2, analytic(&bv));
    // Rows with an ignored target get no gradient at all.
    let gh = analytic(&hv);
    for r in (0..c.n).filter(|&r| c.targets[r] == IGNORE) {
        assert!(gh[r * c.h..(r + 1) * c.h].iter().all(|&g| g == 0.0), "ignored row {r} has a gradient");
    }
}

#[test]
fn matches_candles_own_operations_on_a_larger_case_with_two_passes() {
    // Many rows (so the per-row loops split across tasks) and a vocabulary of realistic width.
    let mut rng = StdRng::seed_from_u64(3);
    let (n, h, vocab) = (300, 16, 1000);
    let d = Device::Cpu;
    let mk = |v: Vec<f64>, shape: &[usize]| Tensor::from_vec(v, shape, &d).unwrap().to_dtype(DType::F32).unwrap();
    let h_t = mk(random(&mut rng, n * h, 2.0), &[n, h]);
    let w_t = mk(random(&mut rng, vocab * h, 1.0), &[vocab, h]);
    let b_t = mk(random(&mut rng, vocab, 1.0), &[vocab]);
    let targets: Vec<u32> =
        (0..n).map(|r| if r % 7 == 0 { IGNORE } else { rng.random_range(1..vocab as u32) }).collect();

    let vars = || (Var::from_tensor(&h_t).unwrap(), Var::from_tensor(&w_t).unwrap(), Var::from_tensor(&b_t).unwrap());
    let (hf, wf, bf) = vars();
    let fused = projected_cross_entropy(hf.as_tensor(), wf.as_tensor(), bf.as_tensor(), &targets, IGNORE).unwrap();
    let (hr, wr, br) = vars();
    let logits = hr.as_tensor().matmul(&wr.as_tensor().t().unwrap()).unwrap().broadcast_add(br.as_tensor()).unwrap();
    let reference = cross_entropy(&logits, &targets, IGNORE).unwrap();
    let (a, b) = (fused.to_scalar::<f32>().unwrap(), reference.to_scalar::<f32>().unwrap());
    assert!((a - b).abs() < 1e-5 * b.abs(), "loss {a} vs {b}");

    let g_fused = fused.backward().unwrap();
    let g_ref = reference.backward().unwrap();
    for (x, y, name) in [(&hf, &hr, "hidden"), (&wf, &wr, "weight"), (&bf, &br, "bias")] {
        let gx = g_fused.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let gy = g_ref.get(y.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let scale = gy.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = gx.iter().zip(&gy).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(worst < 1e-4 * scale, "{name}: worst difference {worst} against a scale of {scale}");
    }
    // A second backward pass over the same graph recomputes what the first one consumed.
    let again = fused.backward().unwrap();
    let g1 = g_fused.get(wf.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let g2 = again.get(wf.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(g1, g2);
}

#[test]
fn all_rows_ignored_gives_zero_loss_and_zero_gradients() {
    let c = case(4);
    let (h, w, b) = tensors(&c, DType::F64);
    let hv = Var::from_tensor(&h).unwrap();
    let ignored = vec![IGNORE; c.n];
    let loss = projected_cross_entropy(hv.as_tensor(), &w, &b, &ignored, IGNORE).unwrap();
    assert_eq!(loss.to_scalar::<f64>().unwrap(), 0.0);
    let g = loss.backward().unwrap().get(hv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    assert!(g.iter().all(|&x| x == 0.0));
}

#[test]
fn bad_shapes_and_targets_are_errors() {
    let c = case(5);
    let (h, w, b) = tensors(&c, DType::F32);
    let short = &c.targets[..c.n - 1];
    let e = projected_cross_entropy(&h, &w, &b, short, IGNORE).unwrap_err().to_string();
    assert!(e.contains("do not fit"), "{e}");
    let mut outside = c.targets.clone();
    outside[2] = c.vocab as u32;
    let e = projected_cross_entropy(&h, &w, &b, &outside, IGNORE).unwrap_err().to_string();
    assert!(e.contains("row 2") && e.contains("outside the vocabulary"), "{e}");
    let e = projected_cross_entropy(&h, &w.t().unwrap(), &b, &c.targets, IGNORE).unwrap_err().to_string();
    assert!(e.contains("do not fit"), "{e}");
}

#[test]
fn strided_inputs_give_the_same_loss_as_contiguous_ones() {
    let c = case(6);
    let (h, w, b) = tensors(&c, DType::F64);
    // The weight stored transposed and viewed back: same values, other strides.
    let strided = w.t().unwrap().contiguous().unwrap().t().unwrap();
    assert!(!strided.is_contiguous());
    let a = projected_cross_entropy(&h, &w, &b, &c.targets, IGNORE).unwrap().to_scalar::<f64>().unwrap();
    let s = projected_cross_entropy(&h, &strided, &b, &c.targets, IGNORE).unwrap().to_scalar::<f64>().unwrap();
    assert_eq!(a, s);
}
