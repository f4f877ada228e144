//! `salient import --from-pytorch`: a state dict under the names `torch.nn` gives a classifier's
//! parameters, written here (as `safetensors.torch.save_file` would) from a shipped model's
//! weights, imports to a model with the same logits, dev scores and saliency; bad state dicts
//! are refused, naming the tensor and the shapes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use salient::checkpoint::{load_classifier, METADATA_CONFIG};
use salient::data::Batch;
use salient::error::ImportError;
use salient::explain::logits_of;
use salient::import::import_classifier;
use salient::model::Arch;
use salient::Error;

mod common;
use common::salient;

/// The parameter names `torch.nn` gives a module with the attributes `embedding`
/// (nn.Embedding), `encoder` (nn.RNN / nn.LSTM, one layer) and `classifier` (nn.Linear).
fn torch_names(bidirectional: bool) -> Vec<String> {
    let mut names = vec!["embedding.weight".to_string()];
    let suffixes: &[&str] = if bidirectional { &["", "_reverse"] } else { &[""] };
    for suffix in suffixes {
        for p in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"] {
            names.push(format!("encoder.{p}{suffix}"));
        }
    }
    names.extend(["classifier.weight".to_string(), "classifier.bias".to_string()]);
    names
}

/// A shipped classifier's weights as a PyTorch state dict: every name `torch.nn` gives it, f32.
fn state_dict(dir: &str) -> HashMap<String, Tensor> {
    let loaded = load_classifier(Path::new(dir), &Device::Cpu).unwrap();
    let tensors = loaded.model.tensors().unwrap();
    let names = torch_names(loaded.card.model.arch.bidirectional);
    assert_eq!(tensors.len(), names.len(), "{dir}: salient stores exactly torch.nn's parameters");
    names.iter().map(|n| (n.clone(), tensors[n].to_dtype(DType::F32).unwrap())).collect()
}

/// Write `tensors` as `safetensors.torch.save_file` does (its `format: pt` metadata included).
fn write_state_dict(path: &Path, tensors: &HashMap<String, Tensor>) {
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(metadata)).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn sentences(vocab: &salient::data::Vocab) -> Batch {
    let ids: Vec<Vec<u32>> = ["a gorgeous , witty , seductive movie .", "the plot is not bad", "it 's dull"]
        .iter()
        .map(|s| vocab.encode_text(s).unwrap().ids)
        .collect();
    let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    Batch::from_sequences(&seqs, Vec::new())
}

#[test]
fn a_state_dict_with_pytorch_names_imports_to_the_same_logits() {
    let dir = tempfile::tempdir().unwrap();
    for (model, arch) in [
        ("data/models/rnn-fine", Arch::RNN),
        ("data/models/lstm-binary", Arch::LSTM),
        ("data/models/bilstm-fine", Arch::BILSTM),
    ] {
        let weights = dir.path().join(format!("{arch}.safetensors"));
        write_state_dict(&weights, &state_dict(model));
        let tokenizer = Path::new(model).join("tokenizer.json");
        let imported = import_classifier(&weights, &tokenizer, arch, &Device::Cpu).unwrap();
        let original = load_classifier(Path::new(model), &Device::Cpu).unwrap();
        assert_eq!(imported.config, original.card.model, "{model}: sizes and task read from the tensors");
        let batch = sentences(&original.vocab);
        assert_eq!(logits_of(&imported.model, &batch).unwrap(), logits_of(&original.model, &batch).unwrap(), "{model}");
    }
}

fn saliency_json(model: &Path, out: &Path) -> serde_json::Value {
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        model.to_str().unwrap(),
        "--text",
        "the plot is not bad",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--quiet",
    ]);
    assert!(ok, "{err}");
    serde_json::from_slice(&std::fs::read(out.join("saliency.json")).unwrap()).unwrap()
}

#[test]
fn cli_imports_scores_on_dev_and_explains_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new("data/models/bilstm-fine");
    let weights = dir.path().join("model.safetensors");
    write_state_dict(&weights, &state_dict("data/models/bilstm-fine"));
    let out = dir.path().join("imported");
    let tokenizer = shipped.join("tokenizer.json");
    let args = |out: &PathBuf| {
        [
            "import",
            "--from-pytorch",
            weights.to_str().unwrap(),
            "--tokenizer",
            tokenizer.to_str().unwrap(),
            "--arch",
            "bilstm",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]
        .map(String::from)
    };
    let (ok, stdout, err) = salient(&args(&out).each_ref().map(String::as_str));
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((printed["arch"].as_str(), printed["hidden_dim"].as_u64()), (Some("bilstm"), Some(60)));
    // The card's dev scores are the shipped model's, which were measured in training.
    let imported = load_classifier(&out, &Device::Cpu).unwrap();
    let original = load_classifier(shipped, &Device::Cpu).unwrap();
    assert_eq!(imported.card.epoch, 0);
    assert_eq!(imported.card.training["imported_from"], "pytorch");
    for (got, want) in [
        (imported.card.dev.sentence_accuracy, original.card.dev.sentence_accuracy),
        (imported.card.dev.phrase_accuracy.unwrap(), original.card.dev.phrase_accuracy.unwrap()),
    ] {
        assert!((got - want).abs() < 1e-3, "dev {got} vs the shipped card's {want}");
    }
    // The weights file carries the config in its metadata.
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let in_weights: serde_json::Value =
        serde_json::from_str(&header.metadata().as_ref().unwrap()[METADATA_CONFIG]).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("weights_sha256");
    assert_eq!(in_weights, config);
    // Explained exactly as the model it came from.
    let mine = saliency_json(&out, &dir.path().join("mine"));
    let theirs = saliency_json(shipped, &dir.path().join("theirs"));
    for key in ["ids", "matrix", "token_scores", "class", "probabilities", "score"] {
        assert_eq!(mine["results"][0][key], theirs["results"][0][key], "{key}");
    }
    // A second import into the same directory is refused unless forced.
    let (ok, _, err) = salient(&args(&out).each_ref().map(String::as_str));
    assert!(!ok && err.contains("--force"), "{err}");
}

/// Import `tensors` as `arch` with `tokenizer`, expecting an import error.
fn import_error(tensors: &HashMap<String, Tensor>, arch: Arch, tokenizer: &str) -> ImportError {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    write_state_dict(&weights, tensors);
    match import_classifier(&weights, Path::new(tokenizer), arch, &Device::Cpu) {
        Err(Error::Import(e)) => *e,
        Err(other) => panic!("not an import error: {other}"),
        Ok(_) => panic!("imported"),
    }
}

#[test]
fn bad_state_dicts_are_refused_naming_the_tensor_and_the_shapes() {
    const TOKENIZER: &str = "data/models/lstm-fine/tokenizer.json";
    let lstm = state_dict("data/models/lstm-fine");

    let mut missing = lstm.clone();
    missing.remove("encoder.bias_hh_l0");
    let e = import_error(&missing, Arch::LSTM, TOKENIZER);
    assert!(
        matches!(&e, ImportError::Missing { tensor, expected, .. } if tensor == "encoder.bias_hh_l0" && expected == "[240]"),
        "{e}"
    );

    let mut transposed = lstm.clone();
    transposed.insert("classifier.weight".into(), lstm["classifier.weight"].t().unwrap().contiguous().unwrap());
    let e = import_error(&transposed, Arch::LSTM, TOKENIZER);
    assert!(
        matches!(&e, ImportError::Shape { tensor, expected, found, .. }
            if tensor == "classifier.weight" && expected == "[5, 60]" && found == &[60, 5]),
        "{e}"
    );
    let message = e.to_string();
    assert!(message.contains("classifier.weight") && message.contains("[60, 5]") && message.contains("[5, 60]"));

    // LSTM weights said to be a tanh RNN's: four gate blocks where one is expected.
    let e = import_error(&lstm, Arch::RNN, TOKENIZER);
    assert!(
        matches!(&e, ImportError::Shape { tensor, expected, found, .. }
            if tensor == "encoder.weight_ih_l0" && expected == "[60, 60]" && found == &[240, 60]),
        "{e}"
    );

    // A bidirectional encoder said to read one way.
    let e = import_error(&state_dict("data/models/bilstm-fine"), Arch::LSTM, TOKENIZER);
    assert!(matches!(&e, ImportError::Extra { tensor, .. } if tensor == "encoder.bias_hh_l0_reverse"), "{e}");
    assert!(e.to_string().contains("bidirectional"), "{e}");

    let mut three = lstm.clone();
    three.insert("classifier.weight".into(), lstm["classifier.weight"].narrow(0, 0, 3).unwrap());
    three.insert("classifier.bias".into(), lstm["classifier.bias"].narrow(0, 0, 3).unwrap());
    assert!(matches!(import_error(&three, Arch::LSTM, TOKENIZER), ImportError::Classes { found: 3, .. }));

    let e = import_error(&lstm, Arch::LSTM, "data/models/autoencoder/tokenizer.json");
    assert!(matches!(e, ImportError::Vocabulary { entries: 10000, rows: 16583, .. }), "{e}");

    let mut integers = lstm.clone();
    integers.insert("classifier.bias".into(), Tensor::new(&[1u32, 2, 3, 4, 5], &Device::Cpu).unwrap());
    let e = import_error(&integers, Arch::LSTM, TOKENIZER);
    assert!(matches!(&e, ImportError::NotFloat { tensor, .. } if tensor == "classifier.bias"), "{e}");

    // Not safetensors at all, through the command line: the error, a hint, and no model written.
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("model.pt");
    std::fs::write(&garbage, b"PK\x03\x04 a torch.save zip").unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) = salient(&[
        "import",
        "--from-pytorch",
        garbage.to_str().unwrap(),
        "--tokenizer",
        TOKENIZER,
        "--arch",
        "lstm",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("not a readable safetensors file") && err.contains("hint:"), "{err}");
    assert!(!out.join("config.json").exists());
}
