//! The shipped models still score what the README says (its accuracy table, test split).

use std::path::Path;

use candle_core::Device;
use salient::checkpoint::load_classifier;
use salient::data::{sst, Split};
use salient::eval::evaluate;

/// Rows of the README table between `<!-- accuracy:start -->` and `<!-- accuracy:end -->`:
/// `| model dir | arch | task | sentence acc | phrase acc | ...`.
fn readme_rows() -> Vec<(String, f64, f64)> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("<!-- accuracy:start -->").expect("README has the accuracy table markers");
    let end = readme.find("<!-- accuracy:end -->").unwrap();
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| `data/models/"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let dir = cells[1].trim_matches('`').to_string();
            (dir, cells[4].parse().unwrap(), cells[5].parse().unwrap())
        })
        .collect()
}

#[test]
fn shipped_models_score_what_the_readme_says() {
    let rows = readme_rows();
    assert_eq!(rows.len(), 6, "three architectures x two tasks");
    let test = sst::load_split(Path::new("data/sst"), Split::Test, usize::MAX).unwrap();
    for (dir, sentence, phrase) in rows {
        let loaded = load_classifier(Path::new(&dir), &Device::Cpu).unwrap();
        let e = evaluate(&loaded.model, &loaded.vocab, &test, loaded.card.model.task.clone()).unwrap();
        assert!(
            (e.sentence_accuracy - sentence).abs() < 6e-5,
            "{dir}: sentence {} vs README {sentence}",
            e.sentence_accuracy
        );
        let e_phrase = e.phrase_accuracy.expect("SST has phrase labels");
        assert!((e_phrase - phrase).abs() < 6e-5, "{dir}: phrase {e_phrase} vs README {phrase}");
    }
}

/// The weights are stored in f16; the dev scores recorded at selection (computed in f32) must
/// survive that.
#[test]
fn f16_storage_keeps_the_dev_scores_of_selection() {
    let dev = sst::load_split(Path::new("data/sst"), Split::Dev, usize::MAX).unwrap();
    for (dir, _, _) in readme_rows() {
        let loaded = load_classifier(Path::new(&dir), &Device::Cpu).unwrap();
        assert_eq!(loaded.card.weights_dtype, "f16");
        let e = evaluate(&loaded.model, &loaded.vocab, &dev, loaded.card.model.task.clone()).unwrap();
        let card = loaded.card.dev;
        assert!(
            (e.sentence_accuracy - card.sentence_accuracy).abs() < 1e-3,
            "{dir}: {} vs {}",
            e.sentence_accuracy,
            card.sentence_accuracy
        );
        let (e_phrase, card_phrase) = (e.phrase_accuracy.unwrap(), card.phrase_accuracy.unwrap());
        assert!((e_phrase - card_phrase).abs() < 1e-3, "{dir}: {e_phrase} vs {card_phrase}");
    }
}

/// The README's autoencoder row (between `<!-- autoencoder:start -->` and
/// `<!-- autoencoder:end -->`): `| model dir | split | sentences | token acc | greedy token acc |
/// exact match | perplexity | ...`.
fn readme_autoencoder_row() -> (String, [f64; 4], usize) {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("<!-- autoencoder:start -->").expect("README has the autoencoder table markers");
    let end = readme.find("<!-- autoencoder:end -->").unwrap();
    let line = readme[start..end].lines().find(|l| l.starts_with("| `data/models/")).expect("one model row");
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let numbers = [cells[4], cells[5], cells[6], cells[7]].map(|c| c.parse::<f64>().unwrap());
    (cells[1].trim_matches('`').to_string(), numbers, cells[3].parse().unwrap())
}

#[test]
fn shipped_autoencoder_scores_what_the_readme_says() {
    use salient::data::corpus::{self, CorpusSplit};
    let (dir, [token, greedy, exact, perplexity], sentences) = readme_autoencoder_row();
    let loaded = salient::checkpoint::load_autoencoder(Path::new(&dir), &Device::Cpu, candle_core::DType::F32).unwrap();
    let text = corpus::load_split(Path::new("data/autoencoder"), CorpusSplit::Test).unwrap();
    let encoded = corpus::encode(&text, &loaded.vocab, loaded.model.config().max_len).unwrap();
    let s = salient::eval::evaluate_reconstruction(&loaded.model, &encoded.sentences, encoded.too_long, 128).unwrap();
    assert_eq!(s.sentences, sentences);
    for (name, got, want) in [
        ("token accuracy", s.token_accuracy, token),
        ("greedy token accuracy", s.greedy_token_accuracy, greedy),
        ("exact match", s.exact_match, exact),
    ] {
        assert!((got - want).abs() < 6e-5, "{dir}: {name} {got} vs README {want}");
    }
    assert!((s.perplexity - perplexity).abs() < 6e-3, "{dir}: perplexity {} vs README {perplexity}", s.perplexity);
}

/// Each shipped classifier's weights file carries its config (config.json without the weights'
/// own checksum) in the safetensors `__metadata__`, and is exactly what salient writes for it.
#[test]
fn shipped_classifiers_carry_their_config_in_the_weights() {
    use candle_core::DType;
    use salient::checkpoint::{ModelFiles, CLASSIFIER_FORMAT, METADATA_CONFIG};
    for name in ["rnn-fine", "rnn-binary", "lstm-fine", "lstm-binary", "bilstm-fine", "bilstm-binary"] {
        let dir = Path::new("data/models").join(name);
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = header.metadata().as_ref().unwrap_or_else(|| panic!("{name}: no __metadata__"));
        let in_weights: serde_json::Value = serde_json::from_str(&metadata[METADATA_CONFIG]).unwrap();
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        config.as_object_mut().unwrap().remove("weights_sha256");
        assert_eq!(in_weights, config, "{name}");
        let loaded = load_classifier(&dir, &Device::Cpu).unwrap();
        let again = ModelFiles::new(
            &loaded.model.tensors().unwrap(),
            &loaded.vocab,
            loaded.card,
            CLASSIFIER_FORMAT,
            DType::F16,
        )
        .unwrap();
        assert!(again.weights == bytes, "{name}: the shipped weights are not what salient writes for them");
    }
}

/// The polarity a class name stands for: negative, neutral or positive.
fn polarity(class: &str) -> &str {
    match class {
        "very negative" | "negative" => "negative",
        "very positive" | "positive" => "positive",
        other => other,
    }
}

/// The README's table of what the shipped classifiers predict for its example sentences
/// (between `<!-- predictions:start -->` and `<!-- predictions:end -->`): every cell is what the
/// model predicts, and its mark says plainly whether that agrees with the expected polarity.
/// On a mismatch the message holds the table as the models have it.
#[test]
fn the_readme_says_what_the_shipped_models_predict_for_its_sentences() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("<!-- predictions:start -->").expect("README has the predictions table markers");
    let end = readme.find("<!-- predictions:end -->").unwrap();
    let mut lines = readme[start..end].lines().filter(|l| l.starts_with('|'));
    let header: Vec<String> = lines.next().unwrap().split('|').map(|c| c.trim().to_string()).collect();
    let models: Vec<String> = header[3..header.len() - 1].iter().map(|m| m.trim_matches('`').to_string()).collect();
    assert_eq!(models.len(), 6, "{header:?}");
    let loaded: Vec<_> =
        models.iter().map(|m| load_classifier(&Path::new("data/models").join(m), &Device::Cpu).unwrap()).collect();
    let (mut table, mut rows, mut wrong) = (String::new(), 0, 0);
    let mut same = true;
    for line in lines.skip(1) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (sentence, expected) = (cells[1].trim_matches('`'), cells[2]);
        let mut row = format!("| `{sentence}` | {expected} |");
        for (k, model) in loaded.iter().enumerate() {
            let ids = model.vocab.encode_text(sentence).unwrap().ids;
            let batch = salient::data::Batch::from_sequences(&[ids], Vec::new());
            let class = model.model.predict(&batch).unwrap()[0] as usize;
            let name = model.card.model.task.names()[class].to_string();
            let cell = if polarity(&name) == expected {
                format!("{name} ✓")
            } else {
                wrong += 1;
                format!("{name} ✗")
            };
            same &= cells[3 + k] == cell;
            row.push_str(&format!(" {cell} |"));
        }
        table.push_str(&row);
        table.push('\n');
        rows += 1;
    }
    assert!(rows >= 6, "{rows} sentences");
    assert!(same, "the README's predictions table is not what the models say; it should read:\n{table}");
    // The sentences are chosen to show the models at work: most are right.
    assert!(wrong * 2 < rows * 6, "{wrong} of {} predictions are wrong", rows * 6);
}
