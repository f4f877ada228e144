//! Pretrained word vectors: the GloVe and word2vec text readers (each bad line reported by file
//! and line), the matching of case, training from the vectors (rows equal to the file's,
//! coverage in `config.json`), frozen embeddings on both training passes, resumption without
//! reading the file again, and the command line's embedding size.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use salient::checkpoint::{load_classifier, CONFIG_FILE};
use salient::data::vectors::{self, Coverage, VectorFormat};
use salient::data::{sst, Batch, Split, Task, Vocab};
use salient::error::{DimFrom, VectorsError};
use salient::limits::Limits;
use salient::model::{Arch, Dropout, TrainingPass};
use salient::train::{fresh_learner, train, Optimizer, TrainEvent, TrainOptions};
use salient::Error;

mod common;

use common::{salient, write_treebank};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn vocab() -> Vocab {
    Vocab::build(["good", "bad", "movie", "plot", "good"], true, 1).unwrap()
}

fn read_err(path: &Path, dim: usize) -> VectorsError {
    vectors::read(path, &vocab(), dim).unwrap_err()
}

#[test]
fn glove_word2vec_and_gzip_read_the_same_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let body = "good 0.5 1 -1\nthe 1e-3 2 3\nbad -0.25 0 7.5\n";
    let glove = write(dir.path(), "v.txt", body);
    // word2vec: a header; a byte-order mark, CRLF, tabs, trailing spaces and a blank line too.
    let w2v = write(dir.path(), "v.vec", "\u{feff}3 3\r\ngood\t0.5 1 -1 \r\nthe 1e-3 2 3\r\n\r\nbad -0.25  0 7.5\r\n");
    let gz = dir.path().join("v.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();

    let v = vocab();
    let (good, bad, movie) = (v.token_id("good"), v.token_id("bad"), v.token_id("movie"));
    for (path, format) in [(&glove, VectorFormat::Glove), (&w2v, VectorFormat::Word2vec), (&gz, VectorFormat::Glove)] {
        let found = vectors::read(path, &v, 3).unwrap();
        assert_eq!((found.format, found.dim, found.file_vectors), (format, 3, 3), "{}", path.display());
        assert_eq!(found.row(good), Some(&[0.5f32, 1.0, -1.0][..]));
        assert_eq!(found.row(bad), Some(&[-0.25f32, 0.0, 7.5][..]));
        assert_eq!(found.row(movie), None);
        assert_eq!(found.row(0), None, "[PAD] is never matched");
        assert_eq!((found.found(), found.found_lowercase()), (2, 0));
        assert_eq!(vectors::dimension(path).unwrap(), (format, 3));
        let stored = std::fs::read(path).unwrap();
        assert_eq!(found.sha256, salient::checkpoint::sha256_hex(&stored), "the hash is of the file as stored");
    }
}

#[test]
fn exact_match_first_then_the_first_lowercase_variant() {
    let dir = tempfile::tempdir().unwrap();
    // "Good" comes before "good": the exact word still wins. "Bad" and "BAD" fold to "bad": the
    // first one counts. "movie" twice: the first vector counts.
    let path = write(dir.path(), "v.txt", "Good 9 9\ngood 1 2\nBad 3 4\nBAD 5 6\nmovie 7 8\nmovie 0 0\nMOVIE 1 1\n");
    let v = vocab();
    let found = vectors::read(&path, &v, 2).unwrap();
    assert_eq!(found.row(v.token_id("good")), Some(&[1.0f32, 2.0][..]));
    assert_eq!(found.row(v.token_id("bad")), Some(&[3.0f32, 4.0][..]));
    assert_eq!(found.row(v.token_id("movie")), Some(&[7.0f32, 8.0][..]));
    assert_eq!((found.found(), found.found_lowercase()), (3, 1));

    // A cased vocabulary finds the lower-cased vectors of GloVe's uncased files.
    let cased = Vocab::build(["The", "the", "Plot"], false, 1).unwrap();
    let path = write(dir.path(), "lower.txt", "the 1 1\nplot 2 2\n");
    let found = vectors::read(&path, &cased, 2).unwrap();
    assert_eq!(found.row(cased.token_id("The")), Some(&[1.0f32, 1.0][..]));
    assert_eq!(found.row(cased.token_id("the")), Some(&[1.0f32, 1.0][..]));
    assert_eq!(found.row(cased.token_id("Plot")), Some(&[2.0f32, 2.0][..]));
    assert_eq!((found.found(), found.found_lowercase()), (3, 2));
}

#[test]
fn a_word_with_spaces_is_skipped_but_extra_numbers_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // GloVe 840B holds words such as ". . ."; no vocabulary token holds a space.
    let path = write(dir.path(), "v.txt", "good 1 2\n. . . 3 4\nbad 5 6\n");
    let found = vectors::read(&path, &vocab(), 2).unwrap();
    assert_eq!((found.file_vectors, found.found()), (3, 2));
    let path = write(dir.path(), "w.txt", "good 1 2\nbad 3 4 5\n");
    match read_err(&path, 2) {
        VectorsError::ValueCount { line: 2, found: 3, expected: 2, from: DimFrom::FirstVector(1), word, .. } => {
            assert_eq!(word, "bad")
        }
        e => panic!("{e}"),
    }
}

/// Each bad file: its error, and the message naming the file and line.
#[test]
fn bad_lines_are_reported_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    type Check = Box<dyn Fn(&VectorsError) -> bool>;
    let cases: Vec<(&str, &str, usize, Check)> = vec![
        (
            "too-few.txt",
            "good 1 2 3\nbad 1 2 3\nplot 1 2\n",
            3,
            Box::new(|e| {
                matches!(
                    e,
                    VectorsError::ValueCount { line: 3, found: 2, expected: 3, from: DimFrom::FirstVector(1), .. }
                )
            }),
        ),
        (
            "dims-differ.txt",
            "\ngood 1 2\nbad 1 2\nplot 1 2 3\n",
            2,
            Box::new(|e| {
                matches!(
                    e,
                    VectorsError::ValueCount { line: 4, found: 3, expected: 2, from: DimFrom::FirstVector(2), .. }
                )
            }),
        ),
        (
            "not-a-number.txt",
            "good 1 2\nbad 1 two\n",
            2,
            Box::new(|e| matches!(e, VectorsError::NotANumber { line: 2, index: 2, found, .. } if found == "two")),
        ),
        (
            "nan.txt",
            "good 1 2\nbad nan 2\n",
            2,
            Box::new(|e| matches!(e, VectorsError::NotANumber { line: 2, index: 1, found, .. } if found == "nan")),
        ),
        ("empty.txt", "", 2, Box::new(|e| matches!(e, VectorsError::Empty { .. }))),
        ("blank.txt", "\n  \n", 2, Box::new(|e| matches!(e, VectorsError::Empty { .. }))),
        ("header-only.txt", "0 2\n", 2, Box::new(|e| matches!(e, VectorsError::Empty { .. }))),
        ("no-values.txt", "good 1 2\nbad\n", 2, Box::new(|e| matches!(e, VectorsError::NoValues { line: 2, .. }))),
        (
            "count-lies.txt",
            "3 2\ngood 1 2\nbad 1 2\n",
            2,
            Box::new(
                |e| matches!(e, VectorsError::Header { line: 1, message, .. } if message.contains("3 vectors, but it holds 2")),
            ),
        ),
        (
            "dim-lies.txt",
            "2 3\ngood 1 2\nbad 1 2\n",
            3,
            Box::new(|e| {
                matches!(e, VectorsError::ValueCount { line: 2, found: 2, expected: 3, from: DimFrom::Header(1), .. })
            }),
        ),
        ("zero-dim.txt", "2 0\n", 2, Box::new(|e| matches!(e, VectorsError::Header { line: 1, .. }))),
        (
            "model-dim.txt",
            "good 1 2 3\n",
            2,
            Box::new(|e| matches!(e, VectorsError::ModelDim { line: 1, file_dim: 3, model_dim: 2, .. })),
        ),
    ];
    for (name, text, dim, expected) in cases {
        let path = write(dir.path(), name, text);
        let e = read_err(&path, dim);
        assert!(expected(&e), "{name}: {e:?}");
        let message = e.to_string();
        assert!(message.starts_with(&format!("{}", path.display())), "{name}: {message}");
        let named_line = ["empty", "blank", "header-only"].iter().all(|n| !name.starts_with(n));
        if named_line {
            assert!(message.contains(&format!("{}:", path.display())), "{name}: {message}");
        }
        // The library's error wraps it as it is.
        assert_eq!(Error::from(e).to_string(), message);
    }
    let e = read_err(&dir.path().join("missing.txt"), 2);
    assert!(matches!(e, VectorsError::Io { .. }), "{e:?}");
}

fn options(embeddings: Option<PathBuf>, freeze: bool) -> TrainOptions {
    TrainOptions {
        embedding_dim: 4,
        hidden_dim: 6,
        epochs: 3,
        batch_size: 4,
        lr: 0.3,
        l2: 0.01,
        dropout: 0.0,
        patience: 30,
        init_scale: 0.3,
        embeddings,
        freeze_embeddings: freeze,
        ..TrainOptions::recommended(Arch::LSTM, Task::Fine)
    }
}

/// Vectors for 4 of the toy treebank's words: `Bad` only matches once lower-cased.
const VECTORS: &str = "good 0.5 -0.25 1.5 2\nBad -1 0.75 0.125 -2\nmovie 0.3 0.1 -0.7 0.2\nnot 1 1 -1 -1\n\
                       absent 9 9 9 9\n";

fn table(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_dtype(candle_core::DType::F32).unwrap().to_vec2::<f32>().unwrap()
}

#[test]
fn frozen_pretrained_rows_stay_the_files_vectors_and_the_rest_as_seeded() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let path = write(dir.path(), "vectors.txt", VECTORS);
    let file_rows: Vec<(&str, Vec<f32>)> = VECTORS
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            (f.next().unwrap(), f.map(|v| v.parse().unwrap()).collect())
        })
        .collect();
    for freeze in [true, false] {
        let out = dir.path().join(format!("run-{freeze}"));
        let opts = options(Some(path.clone()), freeze);
        let mut reported = Vec::new();
        let state = train(dir.path(), &out, opts.clone(), false, &Limits::DEFAULT, &Device::Cpu, &mut |e| {
            if let TrainEvent::Embeddings(c) = e {
                reported.push(c.clone())
            }
        })
        .unwrap();
        assert_eq!(state.epochs_done, 3);
        let loaded = load_classifier(&out, &Device::Cpu).unwrap();
        let v = &loaded.vocab;
        let trained = loaded.model.tensors().unwrap();
        let init = loaded.model.config().init_parameters(opts.seed, opts.init_scale, &Device::Cpu).unwrap();
        let (rows, init_rows) = (table(&trained["embedding.weight"]), table(&init["embedding.weight"]));
        let covered: Vec<u32> = file_rows[..4].iter().map(|(w, _)| v.token_id(w)).collect();
        for ((word, vector), &id) in file_rows.iter().zip(&covered) {
            let row = &rows[id as usize];
            let same = row.iter().zip(vector).all(|(a, b)| a.to_bits() == b.to_bits());
            assert_eq!(same, freeze, "freeze {freeze}: `{word}` row {row:?}, file {vector:?}");
        }
        for (id, (row, start)) in rows.iter().zip(&init_rows).enumerate() {
            if !covered.contains(&(id as u32)) && freeze {
                assert!(row.iter().zip(start).all(|(a, b)| a.to_bits() == b.to_bits()), "row {id} moved");
            }
        }
        assert_ne!(table(&trained["classifier.weight"]), table(&init["classifier.weight"]), "the rest trains");

        // The toy treebank: per (positive, negative, subject) triple, "the S is P", "the S is N",
        // "the S is not P", "the S is not N": 18 tokens, 54 in all. Covered: good 2, bad 2,
        // movie 4 (every sentence of its triple), not 6.
        let expected = Coverage {
            file: path.clone(),
            sha256: salient::checkpoint::sha256_hex(VECTORS.as_bytes()),
            format: VectorFormat::Glove,
            dim: 4,
            file_vectors: 5,
            vocab_words: v.len() - 2,
            found: 4,
            found_lowercase: 1,
            train_tokens: 54,
            train_tokens_covered: 14,
        };
        assert_eq!(loaded.card.pretrained_embeddings.as_ref(), Some(&expected));
        assert_eq!(reported, [expected]);
        let train_tokens: usize =
            sst::load_split(dir.path(), Split::Train, usize::MAX).unwrap().iter().map(|t| t.tokens.len()).sum();
        assert_eq!(train_tokens, 54);
    }
}

#[test]
fn frozen_embeddings_do_not_move_on_either_pass_and_l2_does_not_decay_them() {
    let seqs: Vec<Vec<u32>> =
        (0..6).map(|i| (0..2 + i % 3).map(|j| 2 + ((i * 5 + j * 3) % 20) as u32).collect()).collect();
    let labels: Vec<u32> = (0..6).map(|i| i % 5).collect();
    let b = Batch::from_sequences(&seqs, labels);
    for pass in [TrainingPass::Hand, TrainingPass::Autograd] {
        for freeze in [true, false] {
            let opts = TrainOptions { l2: 0.5, ..options(None, freeze) };
            let (mut model, mut optimizer) = fresh_learner(&opts, 24, &Device::Cpu).unwrap();
            // Copied out: a trained `Var` changes in place.
            let before = model.tensors().unwrap();
            let (e0, w0) = (table(&before["embedding.weight"]), table(&before["classifier.weight"]));
            let g = model.training_gradients_with(pass, &b, Some(&mut Dropout::new(0.3, 5))).unwrap();
            assert!(g.embedding_grad.iter().any(|&x| x != 0.0), "{pass:?}: the embeddings have gradients");
            optimizer.step(&g.grads, model.embedding_mut(), &b.ids, &g.embedding_grad).unwrap();
            let after = model.tensors().unwrap();
            let e1 = table(&after["embedding.weight"]);
            let same = e0.iter().flatten().zip(e1.iter().flatten()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert_eq!(same, freeze, "{pass:?} freeze {freeze}");
            assert_ne!(w0, table(&after["classifier.weight"]), "{pass:?}: the other weights train");
        }
    }
}

#[test]
fn resume_keeps_the_coverage_without_reading_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let path = write(dir.path(), "vectors.txt", VECTORS);
    let opts = options(Some(path.clone()), true);
    let whole = dir.path().join("whole");
    train(dir.path(), &whole, opts.clone(), false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap();

    let out = dir.path().join("resumed");
    let one = TrainOptions { epochs: 1, ..opts.clone() };
    train(dir.path(), &out, one, false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap();
    // Another file at the same path now: a resumed run must not read it.
    std::fs::write(&path, "good 1 2 3\n").unwrap();
    let mut reported = Vec::new();
    let state = train(dir.path(), &out, opts, true, &Limits::DEFAULT, &Device::Cpu, &mut |e| {
        if let TrainEvent::Embeddings(c) = e {
            reported.push(c.clone())
        }
    })
    .unwrap();
    assert_eq!(state.epochs_done, 3);
    let (a, b) = (load_classifier(&whole, &Device::Cpu).unwrap(), load_classifier(&out, &Device::Cpu).unwrap());
    assert_eq!(a.card.pretrained_embeddings, b.card.pretrained_embeddings);
    assert_eq!(reported.first(), a.card.pretrained_embeddings.as_ref());
    let (ta, tb) = (a.model.tensors().unwrap(), b.model.tensors().unwrap());
    for (name, t) in &ta {
        assert_eq!(table_any(t), table_any(&tb[name]), "{name}");
    }

    // A config written before the coverage was recorded still loads.
    let config_path = out.join(CONFIG_FILE);
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("pretrained_embeddings").unwrap();
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    assert_eq!(load_classifier(&out, &Device::Cpu).unwrap().card.pretrained_embeddings, None);
}

fn table_any(t: &Tensor) -> Vec<f32> {
    t.to_dtype(candle_core::DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn the_command_line_takes_the_embedding_size_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_treebank(dir.path());
    let vectors = write(dir.path(), "vectors.txt", VECTORS);
    let data = dir.path().to_str().unwrap();
    let out = dir.path().join("run");
    let base = ["train", "--arch", "rnn", "--task", "fine", "--data", data, "--batch-size", "4"];
    let (vectors_arg, out_arg) = (vectors.to_str().unwrap(), out.to_str().unwrap());
    let run = |extra: &[&str]| salient(&[&base[..], &["--embeddings", vectors_arg, "--out", out_arg], extra].concat());

    let (ok, _, err) = run(&["--epochs", "1", "--embedding-dim", "8"]);
    assert!(!ok);
    assert!(err.contains("--embedding-dim 8 disagrees") && err.contains("pass --embedding-dim 4"), "{err}");
    assert!(!out.exists(), "nothing is written before the options are checked");

    let (ok, _, err) = run(&["--epochs", "1", "--freeze-embeddings"]);
    assert!(ok, "{err}");
    assert!(err.contains("pretrained vectors: 4 of"), "{err}");
    let loaded = load_classifier(&out, &Device::Cpu).unwrap();
    assert_eq!(loaded.model.config().embedding_dim, 4);
    assert_eq!(loaded.card.training["freeze_embeddings"], true);

    // Resuming without the file: --embedding-dim says the size.
    std::fs::remove_file(&vectors).unwrap();
    let (ok, _, err) = run(&["--freeze-embeddings", "--resume", "--epochs", "2"]);
    assert!(!ok && err.contains("pass --embedding-dim N"), "{err}");
    let (ok, _, err) = run(&["--freeze-embeddings", "--resume", "--epochs", "2", "--embedding-dim", "4"]);
    assert!(ok, "{err}");
    assert!(err.contains("pretrained vectors: 4 of"), "{err}");
}
