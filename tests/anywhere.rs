//! Use from anywhere: the built `salient` run from a directory outside the repository finds
//! its shipped models and data by name, `$SALIENT_MODELS` and `$SALIENT_DATA` add directories
//! (searched first), `salient models` lists what a name can mean (a broken directory with its
//! error), an unknown name is an error that lists what was searched, and an export spec names
//! models too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `salient` in `cwd`, with no search directory from the caller's environment: only the
/// variables given, and an empty user data directory.
fn salient(cwd: &Path, vars: &[(&str, &Path)], args: &[&str]) -> Output {
    let user = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_salient"));
    command
        .current_dir(cwd)
        .args(args)
        .env_remove("SALIENT_MODELS")
        .env_remove("SALIENT_DATA")
        .env("XDG_DATA_HOME", user.path());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn ok(output: Output, what: &str) -> String {
    assert!(output.status.success(), "{what} failed: {}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn eval_and_saliency_run_from_outside_the_repository() {
    let away = tempfile::tempdir().unwrap();
    // `cd /tmp && salient eval`: the default model and data, found in the build repository.
    let stdout = ok(salient(away.path(), &[], &["eval", "--quiet"]), "salient eval");
    assert!(stdout.starts_with("bilstm fine on test: sentence accuracy "), "{stdout}");
    assert!(stdout.contains("(2210 sentences)") && stdout.contains("(82600 phrases)"), "{stdout}");

    // `cd /tmp && salient saliency --model lstm-fine --text ... --out x`
    let args = ["saliency", "--model", "lstm-fine", "--text", "I hate the movie .", "--out", "x", "--format", "json"];
    ok(salient(away.path(), &[], &args), "salient saliency");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(away.path().join("x/saliency.json")).unwrap()).unwrap();
    let dir = json.pointer("/results/0/provenance/model/dir").and_then(|d| d.as_str()).unwrap_or_else(|| {
        panic!("no model directory in the provenance: {}", &json.to_string()[..500.min(json.to_string().len())])
    });
    // Outside the working directory, the directory found is recorded whole.
    assert_eq!(Path::new(dir), root().join("data/models/lstm-fine"));
}

#[test]
fn salient_models_searches_the_variable_first_and_lists_broken_directories() {
    let models = tempfile::tempdir().unwrap();
    copy_dir(&root().join("data/models/rnn-fine"), &models.path().join("my-rnn"));
    // A directory of the name of a shipped model: the variable's comes first.
    copy_dir(&root().join("data/models/rnn-binary"), &models.path().join("lstm-fine"));
    copy_dir(&root().join("data/models/rnn-fine"), &models.path().join("broken"));
    std::fs::write(models.path().join("broken/config.json"), "{ not json").unwrap();
    copy_dir(&root().join("data/models/rnn-fine"), &models.path().join("no-weights"));
    std::fs::remove_file(models.path().join("no-weights/model.safetensors")).unwrap();
    std::fs::create_dir(models.path().join("notes")).unwrap();
    let away = tempfile::tempdir().unwrap();
    let vars = [("SALIENT_MODELS", models.path())];

    let listed: serde_json::Value =
        serde_json::from_str(&ok(salient(away.path(), &vars, &["models", "--json"]), "salient models --json")).unwrap();
    let searched: Vec<&str> =
        listed["searched"].as_array().unwrap().iter().map(|p| p["origin"].as_str().unwrap()).collect();
    assert_eq!(searched, ["$SALIENT_MODELS", "the repository salient was built from", "the user data directory"]);
    let entries = listed["models"].as_array().unwrap();
    let get = |name: &str| {
        entries.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} not listed: {listed}")).clone()
    };
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("data/models/rnn-fine/config.json")).unwrap()).unwrap();
    let mine = get("my-rnn");
    assert_eq!((mine["arch"].as_str(), mine["task"].as_str()), (Some("rnn"), Some("fine")), "{mine}");
    assert_eq!(mine["dev_score"], card["dev"]["sentence_accuracy"]);
    assert_eq!(mine["found_in"], "$SALIENT_MODELS");
    assert!(mine["error"].is_null(), "{mine}");
    let shadowing = get("lstm-fine");
    assert_eq!((shadowing["arch"].as_str(), shadowing["task"].as_str()), (Some("rnn"), Some("binary")));
    assert!(get("broken")["error"].as_str().unwrap().contains("config.json is not a model card"));
    assert!(get("no-weights")["error"].as_str().unwrap().contains("model.safetensors is missing"));
    let shipped = get("bilstm-fine");
    assert_eq!(shipped["found_in"], "the repository salient was built from");
    assert_eq!(Path::new(shipped["dir"].as_str().unwrap()), root().join("data/models/bilstm-fine"));
    let autoencoder = get("autoencoder");
    assert_eq!(autoencoder["task"], "reconstruction");
    assert!(entries.iter().all(|m| m["name"] != "notes"), "a directory without model files is no model");
    // The table too, broken directories and all.
    let table = ok(salient(away.path(), &vars, &["models"]), "salient models");
    assert!(table.lines().any(|l| l.starts_with("broken ") && l.contains("BROKEN: ")), "{table}");

    // A name from the variable's directory, and the shipped name it shadows.
    let json: serde_json::Value = serde_json::from_str(&ok(
        salient(away.path(), &vars, &["eval", "--model", "lstm-fine", "--split", "dev", "--json"]),
        "salient eval --model lstm-fine",
    ))
    .unwrap();
    assert_eq!(json["arch"], "rnn");
    assert_eq!(Path::new(json["model"].as_str().unwrap()), models.path().join("lstm-fine"));
    // A path that exists wins over every name.
    copy_dir(&root().join("data/models/rnn-fine"), &away.path().join("lstm-fine"));
    let json: serde_json::Value = serde_json::from_str(&ok(
        salient(away.path(), &vars, &["eval", "--model", "lstm-fine", "--split", "dev", "--json"]),
        "salient eval --model lstm-fine, a directory here",
    ))
    .unwrap();
    assert_eq!((json["model"].as_str(), json["task"].as_str()), (Some("lstm-fine"), Some("fine")));
}

#[test]
fn an_unknown_name_lists_the_directories_and_the_names() {
    let away = tempfile::tempdir().unwrap();
    let output = salient(away.path(), &[], &["eval", "--model", "lstm-fin"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no model `lstm-fin`"), "{stderr}");
    assert!(stderr.contains(&root().join("data/models").display().to_string()), "{stderr}");
    assert!(stderr.contains("lstm-fine, rnn-binary, rnn-fine"), "the names available: {stderr}");
    assert!(stderr.contains("hint: ") && stderr.contains("SALIENT_MODELS"), "{stderr}");

    let output = salient(away.path(), &[], &["eval", "--data", "sts"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("no data set `sts`"), "{stderr}");
    assert!(stderr.contains("autoencoder, sst"), "the data sets available: {stderr}");
}

#[test]
fn salient_data_names_a_directory_of_data_sets() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("tiny")).unwrap();
    let mut dev = String::new();
    let mut reader = flate2::read::GzDecoder::new(std::fs::File::open(root().join("data/sst/dev.txt.gz")).unwrap());
    std::io::Read::read_to_string(&mut reader, &mut dev).unwrap();
    let five: Vec<&str> = dev.lines().take(5).collect();
    std::fs::write(data.path().join("tiny/dev.txt"), five.join("\n") + "\n").unwrap();
    let away = tempfile::tempdir().unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(
        salient(
            away.path(),
            &[("SALIENT_DATA", data.path())],
            &["eval", "--model", "rnn-fine", "--data", "tiny", "--split", "dev", "--json"],
        ),
        "salient eval --data tiny",
    ))
    .unwrap();
    assert_eq!(json["sentences"], 5);
}

#[test]
fn a_spec_names_models_and_its_paths_start_from_its_directory() {
    let away = tempfile::tempdir().unwrap();
    let specs = away.path().join("specs");
    copy_dir(&root().join("data/models/rnn-fine"), &specs.join("beside"));
    std::fs::write(
        specs.join("names.toml"),
        r#"
[defaults]
format = ["json"]

[[figure]]
name = "by-name"
kind = "heatmap"
model = "lstm-fine"
text = ["good", "not good"]

[[figure]]
name = "beside-the-spec"
kind = "heatmap"
model = "beside"
text = ["good", "not good"]
"#,
    )
    .unwrap();
    ok(salient(away.path(), &[], &["export", "--spec", "specs/names.toml", "--out", "out", "--quiet"]), "export");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(away.path().join("out/manifest.json")).unwrap()).unwrap();
    let dirs: Vec<&str> =
        manifest["figures"].as_array().unwrap().iter().map(|f| f["model"]["dir"].as_str().unwrap()).collect();
    assert_eq!(dirs[0], root().join("data/models/lstm-fine").display().to_string());
    assert_eq!(dirs[1], "specs/beside");
}
