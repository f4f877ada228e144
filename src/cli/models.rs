//! `salient models`: the models that `--model NAME` can name.

use std::path::{Path, PathBuf};

use anyhow::Result;
use salient::checkpoint::{
    read_file, AutoencoderCard, ModelCard, AUTOENCODER_FORMAT, CLASSIFIER_FORMAT, CONFIG_FILE, TOKENIZER_FILE,
    WEIGHTS_FILE,
};
use salient::locate::{Entry, SearchPath};
use serde::Serialize;

use super::{GlobalArgs, JsonArg};

/// List the models that --model can name, from every directory searched (in the order
/// searched: $SALIENT_MODELS, the data/models of the repository salient was built from,
/// $XDG_DATA_HOME/salient/models or ~/.local/share/salient/models; the first directory of a
/// name wins). For each: its name, architecture, task, the dev score recorded when it was
/// selected (sentence accuracy for a classifier, teacher-forced token accuracy for the
/// autoencoder) and its directory. A directory that cannot be read as a model is listed with
/// why. Only config.json is read; `salient eval` checks the weights.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the list as JSON.
    #[command(flatten)]
    json: JsonArg,
}

/// One model as listed.
#[derive(Debug, Serialize)]
struct Listed {
    /// The name `--model` takes.
    name: String,
    /// Its directory.
    dir: PathBuf,
    /// Which directory of the search path it is in.
    found_in: String,
    /// `classifier` or `autoencoder`.
    kind: Option<&'static str>,
    /// The encoder (`rnn`, `lstm`, ...; `lstm-seq2seq` for the autoencoder).
    arch: Option<String>,
    /// `fine`, `binary`, or `reconstruction`.
    task: Option<String>,
    /// What `dev_score` measures.
    dev_metric: Option<&'static str>,
    /// The dev score recorded in config.json at selection.
    dev_score: Option<f64>,
    /// Why the directory cannot be used as a model.
    error: Option<String>,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let search = SearchPath::models();
    let listed: Vec<Listed> = search.entries().into_iter().map(describe).collect();
    if args.json.json {
        let places: Vec<_> = search
            .places()
            .iter()
            .map(|p| serde_json::json!({ "dir": p.dir, "origin": p.origin, "exists": p.dir.is_dir() }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "searched": places, "models": listed }))?);
        return Ok(());
    }
    global.say("searched, in order (the first directory of a name wins):");
    for place in search.places() {
        let missing = if place.dir.is_dir() { "" } else { " (missing)" };
        global.say(format!("  {} ({}){missing}", place.dir.display(), place.origin));
    }
    if listed.is_empty() {
        global.warn(format!(
            "no models found; set ${} to a directory of model directories, or pass --model DIR",
            salient::locate::Kind::Model.variable()
        ));
        return Ok(());
    }
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|m| {
            let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let score = match (m.dev_metric, m.dev_score) {
                (Some(metric), Some(score)) => format!("{score:.4} ({metric})"),
                _ => "-".into(),
            };
            let dir = match &m.error {
                None => m.dir.display().to_string(),
                Some(e) => format!("{}  BROKEN: {e}", m.dir.display()),
            };
            [m.name.clone(), or_dash(&m.arch), or_dash(&m.task), score, dir]
        })
        .collect();
    let header = ["name", "arch", "task", "dev score", "dir"].map(String::from);
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = (0..4).map(|i| format!("{:<w$}", row[i], w = widths[i])).collect();
        println!("{}  {}", cells.join("  "), super::escape_terminal(&row[4]));
    }
    Ok(())
}

/// What a model directory's config.json says, or why it cannot be read.
fn describe(entry: Entry) -> Listed {
    let mut listed = Listed {
        name: entry.name,
        dir: entry.dir,
        found_in: entry.origin,
        kind: None,
        arch: None,
        task: None,
        dev_metric: None,
        dev_score: None,
        error: None,
    };
    let dir = listed.dir.clone();
    if let Err(e) = read_card(&dir, &mut listed) {
        listed.error = Some(e);
    }
    listed
}

/// Fill in `listed` from the card in `dir`.
fn read_card(dir: &Path, listed: &mut Listed) -> std::result::Result<(), String> {
    let bytes = read_file(dir, CONFIG_FILE).map_err(|e| e.to_string())?;
    let invalid = |e: serde_json::Error| format!("{CONFIG_FILE} is not a model card: {e}");
    let format: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
    match format.get("format").and_then(|f| f.as_str()) {
        Some(CLASSIFIER_FORMAT) => {
            let card: ModelCard = serde_json::from_slice(&bytes).map_err(invalid)?;
            listed.kind = Some("classifier");
            listed.arch = Some(card.model.arch.to_string());
            listed.task = Some(card.model.task.to_string());
            listed.dev_metric = Some("sentence accuracy");
            listed.dev_score = Some(card.dev.sentence_accuracy);
        }
        Some(AUTOENCODER_FORMAT) => {
            let card: AutoencoderCard = serde_json::from_slice(&bytes).map_err(invalid)?;
            listed.kind = Some("autoencoder");
            listed.arch = Some("lstm-seq2seq".into());
            listed.task = Some("reconstruction".into());
            listed.dev_metric = Some("token accuracy");
            listed.dev_score = Some(card.dev.token_accuracy);
        }
        other => {
            return Err(format!(
                "{CONFIG_FILE} has format {}, expected {CLASSIFIER_FORMAT} or {AUTOENCODER_FORMAT}",
                other.map_or_else(|| "(none)".to_string(), |f| format!("`{f}`"))
            ))
        }
    }
    for file in [WEIGHTS_FILE, TOKENIZER_FILE] {
        if !dir.join(file).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    Ok(())
}
