//! Training speed: phrases/s and tokens/s for each architecture at batch 32, with the same model
//! in PyTorch (CPU) as a peer in the same run.
//!
//! `cargo bench --bench train` (options after `--`: `--batches N` (default: one epoch, every batch
//! once), `--warmup N`, `--no-peer`, and
//! `--autograd` to train on candle's autograd instead of the pass the model chooses, the
//! hand-written one on the CPU: the speed before it, in the same build; `--device cuda` for the
//! GPU, in a build with `--features cuda`).
//! Both sides train the fine-grained task on the unique SST train phrases, batched by length
//! (no padding), 60-d embeddings and hidden states, dropout, AdaGrad with L2 (the embedding
//! table's rows updated sparsely on both); each times `--batches` batches after `--warmup`
//! untimed ones, by default exactly one epoch, so that both time the same batches (each side
//! shuffles them with its own generator), PyTorch on as many threads as salient
//! (`RAYON_NUM_THREADS`, default 1). The peer is `benches/pytorch_peer.sh`,
//! which installs torch from PyPI or says why it skipped. Results also go to
//! `target/bench/train.json`.

use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use rand::rngs::StdRng;
use rand::SeedableRng;
use salient::data::{batch, sst, Batch, Split, Task, Vocab};
use salient::model::{Arch, Dropout, TrainingPass};
use salient::train::{fresh_learner, train_step, Optimizer, TrainOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
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
    salient::alloc::keep_freed_memory();
    let warmup = arg("--warmup", 20);
    let peer = !std::env::args().any(|a| a == "--no-peer");
    let autograd = std::env::args().any(|a| a == "--autograd");
    let device = device()?;
    let data = std::path::Path::new("data/sst");
    let trees = sst::load_split(data, Split::Train, usize::MAX)?;
    let vocab = Vocab::build(trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)), true, 1)?;
    let examples = batch::unique_phrases(&trees, &vocab, Task::Fine);
    let order = batch::length_batches(examples.iter().map(|e| e.ids.len()), 32, Some(&mut StdRng::seed_from_u64(1)));
    let batches_n = arg("--batches", order.len());
    let mut rows = Vec::new();
    for arch in [Arch::RNN, Arch::LSTM, Arch::BILSTM] {
        let options = TrainOptions { dropout: 0.1, ..TrainOptions::recommended(arch, Task::Fine) };
        let (mut model, mut optimizer) = fresh_learner(&options, vocab.len(), &device)?;
        let mut dropout = Dropout::new(options.dropout, 1);
        let (mut phrases, mut tokens) = (0usize, 0usize);
        let mut start = Instant::now();
        for (k, indices) in order.iter().cycle().take(warmup + batches_n).enumerate() {
            if k == warmup {
                start = Instant::now();
            }
            let refs: Vec<&batch::Example> = indices.iter().map(|&i| &examples[i]).collect();
            let b = Batch::from_examples(&refs);
            if autograd {
                let g = model.training_gradients_with(TrainingPass::Autograd, &b, Some(&mut dropout))?;
                optimizer.step(&g.grads, model.embedding_mut(), &b.ids, &g.embedding_grad)?;
            } else {
                train_step(&mut model, &mut optimizer, &b, &mut dropout)?;
            }
            if k >= warmup {
                phrases += b.batch;
                tokens += b.tokens();
            }
        }
        device.synchronize()?;
        let secs = start.elapsed().as_secs_f64();
        let ours = (phrases as f64 / secs, tokens as f64 / secs);
        let theirs = if peer { pytorch(arch, batches_n, warmup, candle_core::utils::get_num_threads()) } else { None };
        rows.push((arch, ours, theirs));
    }
    let threads = candle_core::utils::get_num_threads();
    let pass = if autograd { "candle's autograd" } else { "the model's pass" };
    let on = if device.is_cpu() { format!("{threads} CPU thread(s)") } else { format!("{device:?}") };
    println!(
        "training speed, batch 32, {batches_n} batches of unique SST train phrases batched by length, 60-d, {on} for salient ({pass})"
    );
    println!("| model | salient phrases/s | salient tokens/s | PyTorch phrases/s | PyTorch tokens/s | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut json = Vec::new();
    for (arch, (p, t), peer) in &rows {
        let (pp, pt, ratio) = match peer {
            Some((pp, pt)) => (format!("{pp:.0}"), format!("{pt:.0}"), format!("{:.1}x", p / pp)),
            None => ("skipped".into(), "skipped".into(), "-".into()),
        };
        println!("| {arch} | {p:.0} | {t:.0} | {pp} | {pt} | {ratio} |");
        json.push(serde_json::json!({
            "arch": arch, "salient_phrases_per_s": p, "salient_tokens_per_s": t,
            "pytorch_phrases_per_s": peer.map(|x| x.0), "pytorch_tokens_per_s": peer.map(|x| x.1),
        }));
    }
    std::fs::create_dir_all("target/bench")?;
    std::fs::write("target/bench/train.json", serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// Run the PyTorch peer; `None` (with its reason on stderr) when it is skipped or fails.
fn pytorch(arch: Arch, batches: usize, warmup: usize, threads: usize) -> Option<(f64, f64)> {
    let out = Command::new("bash")
        .args(["benches/pytorch_peer.sh", "--data", "data/sst/train.txt.gz", "--arch", arch.name()])
        .args(["--batch-size", "32", "--batches", &batches.to_string(), "--warmup", &warmup.to_string()])
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
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((v["phrases_per_s"].as_f64()?, v["tokens_per_s"].as_f64()?))
}
