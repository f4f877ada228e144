//! Autoencoder speed: training tokens/s and greedy reconstructions/s, with the same model in
//! PyTorch (CPU) as a peer in the same run.
//!
//! `cargo bench --bench autoencoder` (options after `--`: `--batches N`, `--warmup N`,
//! `--decode N`, `--no-peer`, and `--autograd` to train on candle's autograd instead of the pass
//! the model chooses, the hand-written one on the CPU: the speed before it, in the same build;
//! `--device cuda` for the GPU, in a build with `--features cuda`). The model is the shipped
//! one's shape (128-d embeddings, 256-d LSTMs, 10,000-entry vocabulary built from `data/autoencoder/train`), freshly initialised.
//! Training: `--batches` batches of 64 equal-length training sentences (up to 30 tokens) after
//! `--warmup` untimed ones, teacher forcing, Adam with clipping. Decoding: greedy
//! reconstruction of the first `--decode` test sentences in batches of 128. The batches are
//! written to `target/bench/` so that the peer (`benches/pytorch_peer.sh autoencoder`, which
//! installs torch or says why it skipped) trains on exactly the same data. Results also go to
//! `target/bench/autoencoder.json`.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::SeedableRng;
use salient::data::batch::length_batches;
use salient::data::corpus::{self, CorpusSplit};
use salient::data::PairBatch;
use salient::model::{Autoencoder, Dropout, TrainingPass};
use salient::train::adam::{Adam, AdamConfig};
use salient::train::autoencoder::{build_vocab, train_step, AutoencoderOptions};
use salient::train::{trainable_tensors, Optimizer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn write_batches(path: &str, batches: &[Vec<&Vec<u32>>]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for b in batches {
        writeln!(f, "{}", serde_json::to_string(b)?)?;
    }
    Ok(())
}

/// `--device cuda` trains on the first CUDA GPU (a build with `--features cuda`); the CPU
/// otherwise.
fn device() -> anyhow::Result<Device> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--device").and_then(|i| args.get(i + 1)).map(String::as_str) {
        None | Some("cpu") => Ok(Device::Cpu),
        Some("cuda") => Ok(Device::new_cuda(0)?),
        Some(other) => anyhow::bail!("--device {other}: expected cpu or cuda"),
    }
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: single-threaded so far.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    // As the `salient` binary does: keep freed memory mapped between steps.
    salient::alloc::keep_freed_memory();
    let (batches_n, warmup, decode_n) = (arg("--batches", 60), arg("--warmup", 5), arg("--decode", 1024));
    let threads = candle_core::utils::get_num_threads();
    let peer = !std::env::args().any(|a| a == "--no-peer");
    let autograd = std::env::args().any(|a| a == "--autograd");
    let device = device()?;
    let options = AutoencoderOptions::default();
    let data = std::path::Path::new("data/autoencoder");
    let train_text = corpus::load_split(data, CorpusSplit::Train)?;
    let vocab = build_vocab(&train_text, options.lowercase, options.vocab_size)?;
    let train = corpus::encode(&train_text, &vocab, options.max_len)?.sentences;
    let test = corpus::encode(&corpus::load_split(data, CorpusSplit::Test)?, &vocab, options.max_len)?.sentences;
    let order = length_batches(train.iter().map(Vec::len), options.batch_size, Some(&mut StdRng::seed_from_u64(1)));
    let batches: Vec<Vec<&Vec<u32>>> =
        order.iter().take(warmup + batches_n).map(|b| b.iter().map(|&i| &train[i]).collect()).collect();
    let decode_groups: Vec<Vec<&Vec<u32>>> =
        length_batches::<StdRng>(test.iter().take(decode_n).map(Vec::len), 128, None)
            .iter()
            .map(|g| g.iter().map(|&i| &test[i]).collect())
            .collect();
    std::fs::create_dir_all("target/bench")?;
    write_batches("target/bench/autoencoder-batches.jsonl", &batches)?;
    write_batches("target/bench/autoencoder-decode.jsonl", &decode_groups)?;

    let config = salient::model::AutoencoderConfig {
        vocab_size: vocab.len(),
        embedding_dim: options.embedding_dim,
        hidden_dim: options.hidden_dim,
        max_len: options.max_len,
        reverse_input: true,
    };
    let (map, vars) = trainable_tensors(config.init_parameters(1, options.init_scale, &device)?, &device)?;
    let mut model = Autoencoder::load(VarBuilder::from_tensors(map, DType::F32, &device), config)?;
    let mut optimizer =
        Adam::new(AdamConfig::new(options.lr, Some(options.clip_norm)), vars, vocab.len() * options.embedding_dim)?;
    let mut dropout = Dropout::new(0.0, 1);
    let (mut sentences, mut tokens, mut flops) = (0usize, 0usize, 0f64);
    let mut start = Instant::now();
    for (k, b) in batches.iter().enumerate() {
        if k == warmup {
            start = Instant::now();
            (sentences, tokens, flops) = (0, 0, 0.0);
        }
        let pb = PairBatch::new(b, b);
        if autograd {
            let g = model.training_gradients_with(TrainingPass::Autograd, &pb, Some(&mut dropout), 0.0)?;
            let ids: Vec<u32> = pb.src_ids.iter().chain(&pb.decoder_ids).copied().collect();
            optimizer.step(&g.grads, model.embedding_mut(), &ids, &g.embedding_grad)?;
        } else {
            train_step(&mut model, &mut optimizer, &pb, &mut dropout, 0.0)?;
        }
        sentences += pb.batch;
        tokens += pb.target_tokens();
        flops += training_flops(&config, &pb);
    }
    device.synchronize()?;
    let secs = start.elapsed().as_secs_f64();
    let (train_sps, train_tps) = (sentences as f64 / secs, tokens as f64 / secs);
    let start = Instant::now();
    let mut decoded = 0usize;
    for g in &decode_groups {
        let pb = PairBatch::new(g, g);
        decoded += model.greedy(&pb, options.max_len)?.len();
    }
    device.synchronize()?;
    let rec_ps = decoded as f64 / start.elapsed().as_secs_f64();

    let flops_per_token = flops / tokens as f64;
    let gemm_rate = matmul_rate(tokens / batches_n, options.hidden_dim, vocab.len())?;

    let theirs = if peer { pytorch(vocab.len(), warmup, threads) } else { None };
    println!(
        "autoencoder speed: {} training batches of {} equal-length sentences (<= {} tokens), {}-d embeddings, {}-d LSTMs, vocabulary {}; greedy decoding of {} test sentences; {} CPU thread(s) each; salient on {:?}, training on {}",
        batches_n,
        options.batch_size,
        options.max_len,
        options.embedding_dim,
        options.hidden_dim,
        vocab.len(),
        decoded,
        threads,
        device,
        if autograd { "candle's autograd" } else { "the model's pass" }
    );
    println!("| | salient | PyTorch | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    let field = |v: Option<f64>| v.map_or("skipped".to_string(), |x| format!("{x:.0}"));
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".to_string(), |b| format!("{:.2}x", a / b));
    let (p_tps, p_sps, p_rps) = match &theirs {
        Some(v) => {
            (v["train_tokens_per_s"].as_f64(), v["train_sentences_per_s"].as_f64(), v["reconstructions_per_s"].as_f64())
        }
        None => (None, None, None),
    };
    println!("| training tokens/s | {train_tps:.0} | {} | {} |", field(p_tps), ratio(train_tps, p_tps));
    println!("| training sentences/s | {train_sps:.0} | {} | {} |", field(p_sps), ratio(train_sps, p_sps));
    println!("| reconstructions/s | {rec_ps:.0} | {} | {} |", field(p_rps), ratio(rec_ps, p_rps));
    let gflops = |tps: f64| tps * flops_per_token / 1e9;
    println!(
        "| training arithmetic, GFLOP/s | {:.1} | {} | |",
        gflops(train_tps),
        p_tps.map_or("skipped".to_string(), |t| format!("{:.1}", gflops(t)))
    );
    let ceiling = gemm_rate / flops_per_token;
    println!(
        "arithmetic: {:.1} MFLOP per training token (matrix products, forward and backward); this machine's matrix product \
         runs at {:.1} GFLOP/s on {} thread(s) ({}x{}x{}), so a step made of nothing else would train {:.0} tokens/s{}",
        flops_per_token / 1e6,
        gemm_rate / 1e9,
        threads,
        tokens / batches_n,
        options.hidden_dim,
        vocab.len(),
        ceiling,
        p_tps.map_or(String::new(), |t| format!(" ({:.2}x PyTorch)", ceiling / t))
    );
    let json = serde_json::json!({
        "threads": threads,
        "flops_per_training_token": flops_per_token,
        "matmul_flops_per_s": gemm_rate,
        "matmul_bound_tokens_per_s": ceiling,
        "salient": {"train_tokens_per_s": train_tps, "train_sentences_per_s": train_sps, "reconstructions_per_s": rec_ps},
        "pytorch": theirs,
    });
    std::fs::write("target/bench/autoencoder.json", serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// Run the PyTorch peer; `None` (with its reason on stderr) when it is skipped or fails.
fn pytorch(vocab: usize, warmup: usize, threads: usize) -> Option<serde_json::Value> {
    let out = Command::new("bash")
        .args(["benches/pytorch_peer.sh", "autoencoder", "--batches-file", "target/bench/autoencoder-batches.jsonl"])
        .args(["--decode-file", "target/bench/autoencoder-decode.jsonl"])
        .args(["--vocab-size", &vocab.to_string(), "--warmup", &warmup.to_string()])
        .args(["--threads", &threads.to_string()])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pytorch peer skipped: cannot run bash: {e}");
            return None;
        }
    };
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{'))?;
    serde_json::from_str(line).ok()
}

/// Floating-point operations of the matrix products in one training step (forward, and backward
/// at twice the forward), the rest of the step being elementwise: per encoder token the input and
/// recurrent gate products (none recurrent at the first step, which starts from zeros), per decoder
/// token the same (recurrent at every step: it starts from the encoder's state) and the output
/// projection over the vocabulary.
fn training_flops(config: &salient::model::AutoencoderConfig, b: &PairBatch) -> f64 {
    let (e, h, v) = (config.embedding_dim as f64, config.hidden_dim as f64, config.vocab_size as f64);
    let (src, tgt, batch) = (b.src_len as f64, b.tgt_len as f64, b.batch as f64);
    let gates = 4.0 * h;
    let encoder = src * 2.0 * e * gates + (src - 1.0).max(0.0) * 2.0 * h * gates;
    let decoder = tgt * (2.0 * e * gates + 2.0 * h * gates + 2.0 * h * v);
    3.0 * batch * (encoder + decoder)
}

/// This machine's matrix-product rate (FLOP/s) through candle, on the output projection's shape:
/// `(rows x hidden) * (hidden x vocab)`, the best of five after a warm-up.
fn matmul_rate(rows: usize, hidden: usize, vocab: usize) -> anyhow::Result<f64> {
    let a = candle_core::Tensor::ones((rows, hidden), DType::F32, &Device::Cpu)?;
    let b = candle_core::Tensor::ones((vocab, hidden), DType::F32, &Device::Cpu)?;
    let mut best = f64::INFINITY;
    for k in 0..6 {
        let start = Instant::now();
        let c = a.matmul(&b.t()?)?;
        let secs = start.elapsed().as_secs_f64();
        drop(c);
        if k > 0 {
            best = best.min(secs);
        }
    }
    Ok(2.0 * (rows * hidden * vocab) as f64 / best)
}
