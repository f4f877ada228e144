//! The shipped models on a CUDA GPU against the CPU: the dispatch sends every model on the GPU
//! to candle's ops (the hand-written passes and the fused loss are CPU kernels), and those ops
//! compute the CPU's numbers (logits, saliency, the training loss and every gradient, the
//! autoencoder's training pass).
//!
//! Compiled only with `--features cuda`. Without a GPU each test says it was skipped, unless
//! `SALIENT_REQUIRE_GPU=1` (set by `scripts/gpu_check.sh`), which makes that a failure.
#![cfg(feature = "cuda")]

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use salient::checkpoint::{load_autoencoder, load_classifier};
use salient::data::{Batch, PairBatch};
use salient::model::loss::projected_cross_entropy;
use salient::model::{Classifier, Dropout, NoTrace, TrainingPass, Unsupported};

/// The first CUDA device, or `None` (skipped) where there is none and none is required.
fn gpu() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(device) => Some(device),
        Err(e) if std::env::var_os("SALIENT_REQUIRE_GPU").is_some() => panic!("SALIENT_REQUIRE_GPU is set but: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no CUDA device ({e})");
            None
        }
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_device(&Device::Cpu).unwrap().to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

/// Largest difference relative to the larger magnitude of `cpu`.
fn assert_close(what: &str, gpu: &[f64], cpu: &[f64], tol: f64) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    let scale = cpu.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    let worst = gpu.iter().zip(cpu).map(|(a, b)| (a - b).abs() / scale).fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: GPU and CPU differ by {worst:.2e} of the largest value (allowed {tol:.0e})");
}

/// Left-padded rows of lengths 3, 7, 1 and 5 of ids inside every shipped vocabulary, with labels.
fn batch() -> Batch {
    Batch::from_sequences(
        &[vec![4, 5, 6], vec![7, 8, 9, 10, 11, 12, 13], vec![14], vec![15, 16, 17, 18, 19]],
        vec![0, 3, 4, 1],
    )
}

#[test]
fn classifiers_on_the_gpu_run_candle_ops_and_match_the_cpu() {
    let Some(cuda) = gpu() else { return };
    for name in ["rnn-fine", "lstm-fine", "bilstm-fine"] {
        let dir = Path::new("data/models").join(name);
        let cpu = load_classifier(&dir, &Device::Cpu).unwrap().model;
        let gpu = load_classifier(&dir, &cuda).unwrap().model;
        assert_eq!(cpu.hand_pass(), Ok(()), "{name} on the CPU");
        assert_eq!(gpu.hand_pass(), Err(Unsupported::Device), "{name} on the GPU");
        assert_eq!(gpu.training_pass(), TrainingPass::Autograd, "{name} on the GPU");

        let b = batch();
        let logits = |m: &Classifier| values(&m.forward(&b, &mut NoTrace).unwrap());
        assert_close(&format!("{name} logits"), &logits(&gpu), &logits(&cpu), 1e-5);

        // First-derivative saliency: the predicted class's logit with respect to the embeddings.
        let saliency = |m: &Classifier| {
            let x = m.embed(&b).unwrap();
            let mask = m.mask(&b).unwrap();
            let g = m.input_gradient(&x, mask.as_ref(), &mut |logits| Ok(logits.max(1)?)).unwrap();
            values(&g.grad)
        };
        assert_close(&format!("{name} saliency"), &saliency(&gpu), &saliency(&cpu), 1e-4);

        // One training pass (dropout masks are drawn on the host, so both sides drop the same).
        let train = |m: &Classifier| m.training_gradients(&b, Some(&mut Dropout::new(0.3, 7))).unwrap();
        let (g, c) = (train(&gpu), train(&cpu));
        assert_close(&format!("{name} loss"), &[g.loss as f64], &[c.loss as f64], 1e-5);
        let (gt, ct) = (gpu.tensors().unwrap(), cpu.tensors().unwrap());
        for (n, cpu_tensor) in ct.iter().filter(|(n, _)| *n != "embedding.weight") {
            let (gg, cg) = (g.grads.get(&gt[n]).unwrap(), c.grads.get(cpu_tensor).unwrap());
            assert_close(&format!("{name} d{n}"), &values(gg), &values(cg), 1e-4);
        }
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_close(&format!("{name} embedding rows"), &f(&g.embedding_grad), &f(&c.embedding_grad), 1e-4);
    }
}

#[test]
fn the_fused_loss_falls_back_to_candle_ops_on_the_gpu() {
    let Some(cuda) = gpu() else { return };
    let (n, d, v) = (6, 5, 11);
    let data = |len: usize, k: f32| (0..len).map(|i| (i as f32 * k).sin()).collect::<Vec<_>>();
    let on = |device: &Device| {
        let h = Tensor::from_vec(data(n * d, 0.7), (n, d), device).unwrap();
        let w = Tensor::from_vec(data(v * d, 1.3), (v, d), device).unwrap();
        let b = Tensor::from_vec(data(v, 2.1), v, device).unwrap();
        values(&projected_cross_entropy(&h, &w, &b, &[1, 10, 0, 3, 99, 4], 99).unwrap())
    };
    assert_close("projected cross-entropy", &on(&cuda), &on(&Device::Cpu), 1e-6);
}

#[test]
fn the_autoencoder_on_the_gpu_runs_autograd_and_matches_the_cpu() {
    let Some(cuda) = gpu() else { return };
    let dir = Path::new("data/models/autoencoder");
    let cpu = load_autoencoder(dir, &Device::Cpu, DType::F32).unwrap().model;
    let gpu = load_autoencoder(dir, &cuda, DType::F32).unwrap().model;
    assert_eq!(cpu.training_pass(), TrainingPass::Hand);
    assert_eq!(gpu.training_pass(), TrainingPass::Autograd);
    let s: Vec<Vec<u32>> = vec![vec![5, 6, 7, 8], vec![9, 10, 11, 12]];
    let b = PairBatch::new(&s, &s);
    let (g, c) = (gpu.training_gradients(&b, None).unwrap(), cpu.training_gradients(&b, None).unwrap());
    assert_close("autoencoder loss", &[g.loss as f64], &[c.loss as f64], 1e-5);
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    assert_close("autoencoder embedding rows", &f(&g.embedding_grad), &f(&c.embedding_grad), 1e-4);
}
