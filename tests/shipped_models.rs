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
    let test = sst::load_split(Path::new("data/sst"), Split::Test).unwrap();
    for (dir, sentence, phrase) in rows {
        let loaded = load_classifier(Path::new(&dir), &Device::Cpu).unwrap();
        let e = evaluate(&loaded.model, &loaded.vocab, &test, loaded.card.model.task).unwrap();
        assert!(
            (e.sentence_accuracy - sentence).abs() < 6e-5,
            "{dir}: sentence {} vs README {sentence}",
            e.sentence_accuracy
        );
        assert!((e.phrase_accuracy - phrase).abs() < 6e-5, "{dir}: phrase {} vs README {phrase}", e.phrase_accuracy);
    }
}

/// The weights are stored in f16; the dev scores recorded at selection (computed in f32) must
/// survive that.
#[test]
fn f16_storage_keeps_the_dev_scores_of_selection() {
    let dev = sst::load_split(Path::new("data/sst"), Split::Dev).unwrap();
    for (dir, _, _) in readme_rows() {
        let loaded = load_classifier(Path::new(&dir), &Device::Cpu).unwrap();
        assert_eq!(loaded.card.weights_dtype, "f16");
        let e = evaluate(&loaded.model, &loaded.vocab, &dev, loaded.card.model.task).unwrap();
        let card = loaded.card.dev;
        assert!(
            (e.sentence_accuracy - card.sentence_accuracy).abs() < 1e-3,
            "{dir}: {} vs {}",
            e.sentence_accuracy,
            card.sentence_accuracy
        );
        assert!(
            (e.phrase_accuracy - card.phrase_accuracy).abs() < 1e-3,
            "{dir}: {} vs {}",
            e.phrase_accuracy,
            card.phrase_accuracy
        );
    }
}
