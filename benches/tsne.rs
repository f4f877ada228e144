//! t-SNE speed and quality: salient's Barnes-Hut t-SNE on 2,000 and 10,000 real phrase
//! representations (60-d, the shipped LSTM's), against linfa-tsne 0.8.1 (bhtsne 0.4.1),
//! scikit-learn and openTSNE in the same run, each timed and each embedding scored by one exact
//! KL(P || Q) function (`benches/tsne_peer.py`).
//!
//! `cargo bench --bench tsne` (options after `--`: `--model DIR`, `--sizes 2000,10000`,
//! `--threads N`, `--also-theta 0.5` (extra salient runs at these thetas), `--no-linfa`,
//! `--no-peer`).
//!
//! The phrases are unique SST training phrases drawn with seed 1; all methods use perplexity 30,
//! 1,000 iterations (250 with early exaggeration 12), a random start and seed 1; Barnes-Hut
//! theta 0.5 for the peers and linfa-tsne, salient's default 0.3 for salient, which also runs at
//! 0.5.
//! salient also runs on one thread at the smallest size, and twice on the same seed, to show the
//! coordinates are bit-identical (and identical across thread counts); linfa-tsne runs twice at
//! the smallest size to show that its coordinates are not. The peers run through
//! `benches/tsne_peer.sh` (a virtualenv in `target/tsne-venv`), which skips with a message when
//! they cannot be installed. Results also go to `target/bench/tsne.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use linfa::traits::Transformer;
use salient::checkpoint::load_classifier;
use salient::data::{sst, Split};
use salient::project::tsne::{tsne, TsneParams};
use salient::project::{represent, PhraseSet};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn write_f64(path: &Path, values: &[f64]) -> anyhow::Result<()> {
    std::fs::write(path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())?;
    Ok(())
}

/// CPU seconds (user + system, all threads) this process has used so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn linfa_tsne(points: &[f32], n: usize, d: usize, params: &TsneParams) -> anyhow::Result<(Vec<f64>, f64, f64)> {
    use rand08::SeedableRng;
    let data = ndarray::Array2::from_shape_vec((n, d), points.iter().map(|&v| v as f64).collect())?;
    let rng = rand08::rngs::SmallRng::seed_from_u64(params.seed);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let y = linfa_tsne::TSneParams::embedding_size_with_rng(2, rng)
        .perplexity(params.perplexity)
        .approx_threshold(params.theta)
        .max_iter(params.iterations)
        .transform(data)?;
    Ok((y.iter().copied().collect(), t.elapsed().as_secs_f64(), cpu_seconds() - cpu))
}

fn main() -> anyhow::Result<()> {
    let model_dir = PathBuf::from(arg("--model").unwrap_or_else(|| "data/models/lstm-fine".into()));
    let sizes: Vec<usize> = arg("--sizes")
        .unwrap_or_else(|| "2000,10000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let threads = arg("--threads")
        .map(|t| t.parse())
        .transpose()?
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let largest = *sizes.iter().max().expect("at least one size");
    let params = TsneParams::default();
    // The peers' (and linfa-tsne's) Barnes-Hut accuracy.
    let peer_theta = 0.5;

    let loaded = load_classifier(&model_dir, &Device::Cpu)?;
    let trees = sst::load_split(Path::new("data/sst"), Split::Train, usize::MAX)?;
    let set = PhraseSet::sample(&trees, "train", &loaded.vocab, &loaded.card.model.task, largest, 1)?;
    let reps = represent(&loaded.model, &set.phrases, 256)?;
    let dim = reps[0].vector.len();
    let all: Vec<f32> = reps.iter().flat_map(|r| r.vector.iter().copied()).collect();
    let dir = PathBuf::from("target/bench/tsne");
    std::fs::create_dir_all(&dir)?;
    let meta = serde_json::json!({
        "model": model_dir.display().to_string(), "sizes": sizes, "dim": dim,
        "perplexity": params.perplexity, "iterations": params.iterations, "seed": params.seed,
        "theta": params.theta, "peer_theta": peer_theta,
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    eprintln!("{} unique SST train phrases, {dim}-d representations of {}", set.phrases.len(), model_dir.display());

    let mut report = serde_json::Map::new();
    for (k, &n) in sizes.iter().enumerate() {
        let points = &all[..n * dim];
        std::fs::write(
            dir.join(format!("points-{n}.f32")),
            points.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
        )?;
        let mut row = serde_json::Map::new();
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let out = tsne(points, n, dim, &params, threads)?;
        let (seconds, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        eprintln!("salient, {threads} threads, {n} points: {seconds:.2} s, KL {:?}", out.kl_divergence);
        write_f64(&dir.join(format!("salient-{n}.f64")), &out.coords)?;
        row.insert(
            "salient".into(),
            serde_json::json!({"seconds": seconds, "cpu_seconds": cpu, "threads": threads, "kl_own": out.kl_divergence}),
        );
        // Other Barnes-Hut accuracies.
        for theta in arg("--also-theta")
            .map_or(Ok(vec![peer_theta]), |t| t.split(',').map(str::parse).collect::<Result<Vec<f64>, _>>())?
        {
            let other = TsneParams { theta, ..params.clone() };
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let out = tsne(points, n, dim, &other, threads)?;
            let (seconds, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            eprintln!(
                "salient, theta {theta}, {threads} threads, {n} points: {seconds:.2} s, KL {:?}",
                out.kl_divergence
            );
            let name = format!("salient-theta{theta}");
            write_f64(&dir.join(format!("{name}-{n}.f64")), &out.coords)?;
            row.insert(
                name,
                serde_json::json!({"seconds": seconds, "cpu_seconds": cpu, "threads": threads, "kl_own": out.kl_divergence}),
            );
        }
        if k == 0 {
            let again = tsne(points, n, dim, &params, threads)?;
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let one = tsne(points, n, dim, &params, 1)?;
            let (one_seconds, one_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            let other = tsne(points, n, dim, &TsneParams { seed: 2, ..params.clone() }, threads)?;
            eprintln!("salient, 1 thread, {n} points: {one_seconds:.2} s");
            write_f64(&dir.join(format!("salient-1thread-{n}.f64")), &one.coords)?;
            row.insert(
                "salient-1thread".into(),
                serde_json::json!({"seconds": one_seconds, "cpu_seconds": one_cpu, "threads": 1, "kl_own": one.kl_divergence}),
            );
            row.insert(
                "salient_reproducible".into(),
                serde_json::json!({
                    "same_seed_identical": same_bits(&out.coords, &again.coords),
                    "one_vs_many_threads_identical": same_bits(&out.coords, &one.coords),
                    "other_seed_differs": !same_bits(&out.coords, &other.coords),
                }),
            );
        }
        let linfa_params = TsneParams { theta: peer_theta, ..params.clone() };
        if !flag("--no-linfa") {
            let (y, seconds, cpu) = linfa_tsne(points, n, dim, &linfa_params)?;
            eprintln!("linfa-tsne, 1 thread, {n} points: {seconds:.2} s");
            write_f64(&dir.join(format!("linfa-{n}.f64")), &y)?;
            let mut entry = serde_json::json!({"seconds": seconds, "cpu_seconds": cpu, "threads": 1});
            if k == 0 {
                let (again, ..) = linfa_tsne(points, n, dim, &linfa_params)?;
                entry["same_seed_identical"] = serde_json::json!(same_bits(&y, &again));
            }
            row.insert("linfa".into(), entry);
        }
        report.insert(n.to_string(), serde_json::Value::Object(row));
    }

    let peer = if flag("--no-peer") {
        None
    } else {
        let out = Command::new("bash")
            .arg("benches/tsne_peer.sh")
            .args(["--input", dir.to_str().expect("utf-8 path"), "--threads", &threads.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    };
    if let Some(peer) = &peer {
        for (n, methods) in peer["sizes"].as_object().into_iter().flatten() {
            let row = report.entry(n.clone()).or_insert_with(|| serde_json::json!({}));
            for (name, values) in methods.as_object().into_iter().flatten() {
                let entry = row
                    .as_object_mut()
                    .expect("an object")
                    .entry(name.clone())
                    .or_insert_with(|| serde_json::json!({}));
                for (key, v) in values.as_object().into_iter().flatten() {
                    entry[key] = v.clone();
                }
            }
        }
    } else {
        eprintln!("(peers skipped: salient and linfa-tsne only, KL as computed by salient)");
    }

    println!("| points | method | threads | wall s | CPU s | KL (shared exact) |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for n in &sizes {
        let row = &report[&n.to_string()];
        let mut names: Vec<String> = ["salient", "salient-1thread"].iter().map(|s| s.to_string()).collect();
        names.extend(
            row.as_object().into_iter().flatten().map(|(k, _)| k.clone()).filter(|k| k.starts_with("salient-theta")),
        );
        names.extend(["linfa", "scikit-learn", "openTSNE"].iter().map(|s| s.to_string()));
        for name in &names {
            let m = &row[name.as_str()];
            if m.is_null() {
                continue;
            }
            let kl = m["kl"].as_f64().or(m["kl_own"].as_f64()).map_or("-".into(), |k| format!("{k:.4}"));
            let th = m["threads"].as_u64().unwrap_or(threads as u64);
            let secs = |k: &str| m[k].as_f64().map_or("-".into(), |s| format!("{s:.2}"));
            println!("| {n} | {name} | {th} | {} | {} | {kl} |", secs("seconds"), secs("cpu_seconds"));
        }
        if let Some(r) = row.get("salient_reproducible") {
            println!("| {n} | salient reproducibility | | | | {r} |");
        }
        if let Some(r) = row["linfa"].get("same_seed_identical") {
            println!("| {n} | linfa-tsne same seed identical | | | | {r} |");
        }
    }
    let doc = serde_json::json!({"meta": meta, "peer_versions": peer.as_ref().map(|p| p["versions"].clone()), "results": report});
    std::fs::write("target/bench/tsne.json", serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}
