//! Saliency speed: first-derivative saliency maps per second over the SST test sentences,
//! without and with rendering (SVG written to disk), against Captum's `Saliency` on the same
//! model in PyTorch (CPU) in the same run.
//!
//! `cargo bench --bench saliency` (options after `--`: `--model DIR`, `--batch-size N`,
//! `--threads N` (most threads tried; 1 is always tried), `--no-peer`).
//! The model defaults to `data/models/bilstm-fine`; when it is missing a randomly initialised
//! model of the same shape is saved to `target/bench/random-bilstm-fine` (speed does not depend
//! on the weights). Both sides explain the predicted class by the paper's score `exp(z_c)` and
//! take `|dS/de|` per token and dimension. salient batches sentences (sorted by length, one
//! forward and backward pass per batch); the peer, `benches/captum_peer.sh`, runs Captum one
//! sentence at a time, as most of its users do, and batched as salient batches (grouped by length,
//! `--batch-size` a batch, a target per example), and checks that its maps equal ours. The ratio
//! is taken against the faster Captum row, thread for thread. A pass over the split takes well
//! under a second, so salient's maps/s and the batched Captum row are each the fastest of at
//! least 3 whole passes (and 2 s); the one-at-a-time row is one pass. The arithmetic lines time
//! the pass's matrix products alone (same shapes, same threads): the rate a pass made of nothing
//! else would reach, and where salient and 5x Captum stand against it. Results also go to
//! `target/bench/saliency.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle_core::{DType, Device};
use salient::checkpoint::ModelSource;
use salient::checkpoint::{load_classifier, save_classifier, ModelCard};
use salient::data::Sentence;
use salient::data::{sst, Split, Task, Vocab};
use salient::eval::SplitScores;
use salient::explain::{build_method, run_batches, Explainer, MethodParams, Target};
use salient::model::{Arch, Classifier, ClassifierConfig};
use salient::render::{heatmap_svg, RenderOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// The shipped model, or a random one of the same shape saved where the peer can read it.
fn model_dir(trees: &[sst::Tree]) -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(arg("--model").unwrap_or_else(|| "data/models/bilstm-fine".into()));
    if dir.join("config.json").is_file() {
        return Ok(dir);
    }
    let random = PathBuf::from("target/bench/random-bilstm-fine");
    if random.join("config.json").is_file() {
        return Ok(random);
    }
    eprintln!("{} not found; benchmarking a random model of the same shape in {}", dir.display(), random.display());
    let vocab = Vocab::build(trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)), true, 1)?;
    let config = ClassifierConfig {
        arch: Arch::BILSTM,
        task: Task::Fine.into(),
        vocab_size: vocab.len(),
        embedding_dim: 60,
        hidden_dim: 60,
    };
    let tensors = config.init_parameters(1, 0.1, &Device::Cpu)?;
    let model =
        Classifier::load(candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu), config.clone())?;
    let card = ModelCard::new(
        config,
        serde_json::json!("random weights for benchmarking"),
        0,
        SplitScores { sentence_accuracy: 0.0, phrase_accuracy: Some(0.0) },
    );
    save_classifier(&random, &model, &vocab, card, DType::F32)?;
    Ok(random)
}

/// The peer's JSON line, or `None` (with the reason on stderr) when it was skipped.
fn captum(dir: &Path, input: &Path, threads: usize, batch: usize) -> Option<serde_json::Value> {
    let out = Command::new("bash")
        .arg("benches/captum_peer.sh")
        .args(["--model", dir.to_str()?, "--input", input.to_str()?, "--threads", &threads.to_string()])
        .args(["--batch", &batch.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).lines().last()?.to_string();
    serde_json::from_str(&line).ok()
}

fn main() -> anyhow::Result<()> {
    salient::alloc::keep_freed_memory();
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: single-threaded so far.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let batch_size: usize = arg("--batch-size").and_then(|v| v.parse().ok()).unwrap_or(64);
    let max_threads: usize = arg("--threads")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let peer = !std::env::args().any(|a| a == "--no-peer");
    let data = Path::new("data/sst");
    let train = sst::load_split(data, Split::Train, usize::MAX)?;
    let dir = model_dir(&train)?;
    let loaded = load_classifier(&dir, &Device::Cpu)?;
    let test = sst::load_split(data, Split::Test, usize::MAX)?;
    let sentences: Vec<Sentence> =
        test.iter().enumerate().map(|(i, t)| Sentence::from_tokens(&loaded.vocab, i + 1, &t.tokens)).collect();
    let tokens: usize = sentences.iter().map(Sentence::len).sum();
    let method = build_method("grad", &MethodParams::default())?;
    let target = Target::default();
    std::fs::create_dir_all("target/bench")?;

    let mut threads_tried = vec![1];
    if max_threads > 1 {
        threads_tried.push(max_threads);
    }
    let mut rows = Vec::new();
    for &threads in &threads_tried {
        let explainer = Explainer::new(&loaded.model, ModelSource::of(&loaded)).batch_size(batch_size).threads(threads);
        explainer.attribute(method.as_ref(), &sentences[..256], &target, &mut |_| {})?; // warm-up
                                                                                        // One pass over the split takes a fraction of a second: time whole passes until at least
                                                                                        // 3 and 2 s, and take the fastest pass (the least disturbed by the rest of the machine).
        let (mut compute, mut passes, begun) = (f64::INFINITY, 0, Instant::now());
        while passes < 3 || begun.elapsed().as_secs_f64() < 2.0 {
            let start = Instant::now();
            let maps = explainer.attribute(method.as_ref(), &sentences, &target, &mut |_| {})?;
            compute = compute.min(start.elapsed().as_secs_f64());
            drop(maps);
            passes += 1;
        }

        // With rendering: compute, draw and write every figure (drawing on the same threads).
        let svg_dir = PathBuf::from(format!("target/bench/saliency-svg-{threads}"));
        let _ = std::fs::remove_dir_all(&svg_dir);
        std::fs::create_dir_all(&svg_dir)?;
        let start = Instant::now();
        let maps = explainer.attribute(method.as_ref(), &sentences, &target, &mut |_| {})?;
        let groups: Vec<Vec<usize>> = (0..maps.len()).collect::<Vec<_>>().chunks(64).map(<[usize]>::to_vec).collect();
        let bytes: Vec<usize> = run_batches(&groups, threads, &mut |_| {}, |group| {
            let mut bytes = 0;
            for &i in group {
                let svg = heatmap_svg(&salient::figures::saliency::heatmap(&maps[i]), &RenderOptions::default())?;
                bytes += svg.len();
                salient::export::write_file(&svg_dir.join(format!("sentence-{:04}.svg", i + 1)), svg.as_bytes(), true)?;
            }
            Ok(bytes)
        })?;
        let rendered = start.elapsed().as_secs_f64();
        let n = sentences.len() as f64;
        eprintln!(
            "salient, {threads} thread(s): {:.0} maps/s without rendering, {:.0} figures/s with ({:.1} MB of SVG)",
            n / compute,
            n / rendered,
            bytes.iter().sum::<usize>() as f64 / 1e6
        );
        rows.push((threads, n / compute, n / rendered));
        if threads == 1 {
            // What the peer checks its maps against: ours for the first sentences.
            let check: Vec<_> = maps
                .iter()
                .take(20)
                .map(|a| serde_json::json!({ "ids": a.ids, "matrix": a.matrix, "class": a.class }))
                .collect();
            let ids: Vec<&Vec<u32>> = sentences.iter().map(|s| &s.ids).collect();
            std::fs::write(
                "target/bench/saliency-peer-input.json",
                serde_json::to_vec(&serde_json::json!({ "sentences": ids, "check": check }))?,
            )?;
        }
    }
    // Captum on as many threads as salient's rows, the best of them compared.
    let peer_results: Vec<serde_json::Value> = if peer {
        threads_tried
            .iter()
            .filter_map(|&t| captum(&dir, Path::new("target/bench/saliency-peer-input.json"), t, batch_size))
            .collect()
    } else {
        Vec::new()
    };

    let config = loaded.card.model;
    println!(
        "saliency speed: grad (|d exp(z_c)/de|, predicted class), {} {} model {}, {} SST test sentences ({} tokens), batches of {batch_size}",
        config.arch,
        config.task,
        dir.display(),
        sentences.len(),
        tokens
    );
    println!("| implementation | threads | maps/s (no rendering) | SVG figures/s (rendered and written) |");
    println!("| --- | ---: | ---: | ---: |");
    for (threads, plain, rendered) in &rows {
        println!("| salient | {threads} | {plain:.0} | {rendered:.0} |");
    }
    for p in &peer_results {
        let torch = p["torch_version"].as_str().unwrap_or("?");
        let rate = |key: &str| p[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "| Captum `Saliency` (torch {torch}), one sentence at a time | {} | {:.0} | - |",
            p["threads"],
            rate("sentences_per_s")
        );
        println!(
            "| Captum `Saliency` (torch {torch}), batches of {} by length | {} | {:.0} | - |",
            p["batch"],
            p["threads"],
            rate("batched_sentences_per_s")
        );
    }
    if peer_results.is_empty() {
        println!("| Captum `Saliency` | - | skipped | - |");
    } else {
        // Captum's faster row at each thread count against salient's row at the same count.
        let best = |p: &serde_json::Value| {
            ["sentences_per_s", "batched_sentences_per_s"].iter().filter_map(|k| p[*k].as_f64()).fold(0.0, f64::max)
        };
        for p in &peer_results {
            let threads = p["threads"].as_u64().unwrap_or(0) as usize;
            if let Some((_, ours, _)) = rows.iter().find(|r| r.0 == threads) {
                println!(
                    "salient / Captum's faster row on {threads} thread(s): {:.1}x without rendering",
                    ours / best(p)
                );
            }
        }
        let ours = rows.iter().map(|r| r.1).fold(0.0, f64::max);
        let theirs = peer_results.iter().map(best).fold(0.0, f64::max);
        let diff = peer_results.iter().filter_map(|p| p["max_relative_difference"].as_f64()).fold(0.0, f64::max);
        let batched =
            peer_results.iter().filter_map(|p| p["batched_max_relative_difference"].as_f64()).fold(0.0, f64::max);
        println!(
            "salient / Captum, best row of each: {:.1}x without rendering; Captum's maps match salient's to {diff:.1e} (largest difference relative to the map's largest value), its batched maps its own one-at-a-time maps to {batched:.1e}",
            ours / theirs
        );
    }
    // The arithmetic: the matrix products of a pass, run alone.
    let lengths: Vec<usize> = sentences.iter().map(Sentence::len).collect();
    let shape = PassShape {
        directions: config.arch.directions().len(),
        gates: config.arch.cell.blocks() * config.hidden_dim,
        dim: config.embedding_dim,
        hidden: config.hidden_dim,
    };
    let mut ceilings = Vec::new();
    for &(threads, ours, _) in &rows {
        let (flops, seconds) = products_only(&lengths, batch_size, shape, threads)?;
        let ceiling = sentences.len() as f64 / seconds;
        let five_captum = peer_results.iter().find(|p| p["threads"].as_u64() == Some(threads as u64)).map(|p| {
            let rates = ["sentences_per_s", "batched_sentences_per_s"].map(|k| p[k].as_f64().unwrap_or(0.0));
            5.0 * rates[0].max(rates[1])
        });
        println!(
            "arithmetic, {threads} thread(s): {:.2} MFLOP of matrix products per map (forward and backward); a pass of nothing but \
             those products (the same shapes, batches of {batch_size} sorted by length) runs at {:.1} GFLOP/s and would make \
             {ceiling:.0} maps/s; salient makes {:.0}% of that{}",
            flops / sentences.len() as f64 / 1e6,
            flops / seconds / 1e9,
            100.0 * ours / ceiling,
            five_captum.map_or(String::new(), |f| format!(", 5x Captum's faster row would be {:.0}%", 100.0 * f / ceiling))
        );
        ceilings.push(serde_json::json!({ "threads": threads, "flops_per_map": flops / sentences.len() as f64,
            "products_only_maps_per_s": ceiling, "products_flops_per_s": flops / seconds }));
    }
    let json = serde_json::json!({
        "model": dir, "arch": config.arch, "task": config.task, "sentences": sentences.len(), "tokens": tokens,
        "batch_size": batch_size, "arithmetic": ceilings,
        "salient": rows.iter().map(|(t, p, r)| serde_json::json!({ "threads": t, "maps_per_s": p, "figures_per_s": r })).collect::<Vec<_>>(),
        "captum": peer_results,
    });
    std::fs::write("target/bench/saliency.json", serde_json::to_vec_pretty(&json)?)?;
    Ok(())
}

/// The sizes of a model's saliency pass: recurrent layers (directions), gate rows (`G·hidden`),
/// input and hidden sizes.
#[derive(Clone, Copy)]
struct PassShape {
    directions: usize,
    gates: usize,
    dim: usize,
    hidden: usize,
}

/// The matrix products of one saliency pass over sentences of `lengths`, run alone on `threads`
/// threads (a batch per thread at a time, as the explainer runs them), in batches of `batch`
/// sorted by length: per batch of `r` rows and `t` steps and per layer, the input projection
/// `(r·t x dim)(dim x G)`, `t` recurrent products `(r x hidden)(hidden x G)`, and backward the
/// inputs' gradient `(r·t x G)(G x dim)` and `t` products `(r x G)(G x hidden)`. Returns the
/// FLOPs and the seconds of the fastest of 5 passes (after one untimed).
fn products_only(lengths: &[usize], batch: usize, s: PassShape, threads: usize) -> anyhow::Result<(f64, f64)> {
    use rayon::prelude::*;
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let batches: Vec<(usize, usize)> = sorted.chunks(batch).map(|c| (c.len(), *c.last().unwrap_or(&0))).collect();
    let product = |out: &mut [f32], a: &[f32], b: &[f32], m: usize, n: usize, k: usize| unsafe {
        // SAFETY: out is m x n, a is m x k and b is k x n, all row-major and in bounds.
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    };
    let (g, d, h) = (s.gates, s.dim, s.hidden);
    let (w_ih, w_hh) = (vec![0.25f32; d * g], vec![0.25f32; h * g]);
    let most = batches.iter().map(|&(r, t)| r * t).max().unwrap_or(0);
    // Buffers made once per thread, for the largest batch.
    let buffers = || (vec![0.5f32; most * d.max(g)], vec![0f32; most * g.max(d)], vec![0f32; batch * g.max(h)]);
    let run = |(x, out, step): &mut (Vec<f32>, Vec<f32>, Vec<f32>), &(r, t): &(usize, usize)| {
        for _ in 0..s.directions {
            product(out, x, &w_ih, r * t, g, d);
            for k in 0..t {
                product(step, &x[k * r * h..(k + 1) * r * h], &w_hh, r, g, h);
            }
            product(out, x, &w_ih, r * t, d, g);
            for k in 0..t {
                product(step, &x[k * r * g..(k + 1) * r * g], &w_hh, r, h, g);
            }
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut best = f64::INFINITY;
    for pass in 0..6 {
        let start = Instant::now();
        pool.install(|| batches.par_iter().with_max_len(1).for_each_init(buffers, run));
        if pass > 0 {
            best = best.min(start.elapsed().as_secs_f64());
        }
    }
    let flops: f64 = batches.iter().map(|&(r, t)| (s.directions * 4 * r * t * g * (d + h)) as f64).sum();
    Ok((flops, best))
}
