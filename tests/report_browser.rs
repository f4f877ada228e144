//! The interactive report in a real browser: headless Chromium, driven over the DevTools
//! protocol, opens the page that `salient report` writes (from disk, no server) and checks what
//! a reader sees: no console error, the sentences and points, a token's value on hover, the
//! method switch, zoom and search, the autoencoder's per-step maps, and that hostile text
//! creates no element.
//!
//! Without Chromium the test says it was skipped; under CI (`CI` set) a missing browser fails
//! it. `SALIENT_CHROMIUM` names the browser's executable when it is not on the PATH.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

const HOSTILE: &str = "<img src=x onerror=alert(1)> is a \"good\" film";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SALIENT_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Evaluate `expression` in the page and read its value as JSON (the expression is wrapped in
/// `JSON.stringify`).
fn eval(tab: &Tab, expression: &str) -> Value {
    let wrapped = format!("JSON.stringify((() => {{ {expression} }})())");
    let result = tab.evaluate(&wrapped, false).unwrap_or_else(|e| panic!("{expression}: {e}"));
    let text = result.value.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "null".into());
    serde_json::from_str(&text).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[test]
fn the_report_works_in_a_browser() {
    let Some(browser_path) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the browser tests: install chromium (see .ci/run)");
        eprintln!("report_browser: no Chromium found (set SALIENT_CHROMIUM or install chromium); browser test SKIPPED");
        return;
    };

    // A bundle: two models and two methods on the same sentences (one hostile), a t-SNE, the
    // autoencoder.
    let dir = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/models");
    let texts = format!("[\"I hate the movie .\", \"a good film\", {}]", serde_json::to_string(HOSTILE).unwrap());
    let spec = format!(
        r#"
[defaults]
format = ["html", "json"]

[[figure]]
name = "rnn-grad"
kind = "saliency"
model = "{models}/rnn-fine"
method = "grad"
text = {texts}

[[figure]]
name = "lstm-grad"
kind = "saliency"
model = "{models}/lstm-fine"
method = "grad"
text = {texts}

[[figure]]
name = "lstm-grad-input"
kind = "saliency"
model = "{models}/lstm-fine"
method = "grad-input"
text = {texts}

[[figure]]
name = "tsne"
kind = "tsne"
model = "{models}/lstm-fine"
preset = "negation"

[[figure]]
name = "autoencoder"
kind = "autoencoder-saliency"
model = "{models}/autoencoder"
text = ["the market fell sharply ."]
"#,
        models = models.display()
    );
    let spec_path = dir.path().join("bundle.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) =
        common::salient(&["report", "--spec", spec_path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    // `report` is `export --format html`: the spec's json is overridden.
    assert!(out.join("index.html").is_file() && !out.join("tsne/tsne.json").exists());
    let (ok, _, err) = common::salient(&[
        "export",
        "--spec",
        spec_path.to_str().unwrap(),
        "--out",
        dir.path().join("json").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(ok, "{err}");
    let results = |name: &str, file: &str| read_json(&dir.path().join("json").join(name).join(file));

    let user_data = tempfile::tempdir().unwrap();
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(browser_path))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1280, 1600)))
            .user_data_dir(Some(user_data.path().to_path_buf()))
            .args(args)
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
    )
    .expect("start Chromium");
    let tab = browser.new_tab().unwrap();
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = problems.clone();
    tab.enable_runtime().unwrap();
    tab.enable_log().unwrap();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let problem = match event {
            Event::RuntimeExceptionThrown(e) => Some(format!("exception: {:?}", e.params.exception_details.text)),
            Event::RuntimeConsoleAPICalled(e) => {
                let kind = format!("{:?}", e.params.Type);
                (kind.contains("Error") || kind.contains("Warning"))
                    .then(|| format!("console {kind}: {:?}", e.params.args))
            }
            Event::LogEntryAdded(e) => {
                let level = format!("{:?}", e.params.entry.level);
                level.contains("Error").then(|| format!("log: {}", e.params.entry.text))
            }
            Event::PageJavascriptDialogOpening(e) => Some(format!("dialog: {}", e.params.message)),
            _ => None,
        };
        if let Some(p) = problem {
            seen.lock().unwrap().push(p);
        }
    }))
    .unwrap();

    let url = format!("file://{}", out.join("index.html").display());
    // A dialog (an `alert` from injected markup) blocks the page: the load never completes.
    if let Err(e) = tab.navigate_to(&url).and_then(|t| t.wait_until_navigated()) {
        panic!("the page did not load ({e}); it reported: {:?}", problems.lock().unwrap());
    }
    if let Err(e) = tab.wait_for_element("body[data-ready='true']") {
        panic!("the report's script did not run to its end ({e}); the page reported: {:?}", problems.lock().unwrap());
    }

    // Sentences: every distinct sentence once, each with one row per model for the method shown.
    let sentences = eval(&tab, "return document.querySelectorAll('section.compare .sentence').length;");
    assert_eq!(sentences, 3);
    let rows = eval(&tab, "return [...document.querySelectorAll('section.compare .sentence')].map(s => s.querySelectorAll('.row').length);");
    assert_eq!(rows, serde_json::json!([2, 2, 2]), "rnn and lstm side by side for grad");
    let models = eval(&tab, "return [...document.querySelectorAll('section.compare .sentence')][0].querySelectorAll('.row .model').length && [...[...document.querySelectorAll('section.compare .sentence')][0].querySelectorAll('.row .model')].map(m => m.textContent);");
    assert_eq!(models, serde_json::json!(["rnn-fine", "lstm-fine"]));

    // Hovering a token shows its value (the JSON document's token score) and its row of
    // per-dimension values.
    let expected = results("rnn-grad", "saliency.json")["results"][0]["token_scores"][1].as_f64().unwrap();
    let token = tab.find_element("section.compare .sentence .row .token[data-position='1']").unwrap();
    token.move_mouse_over().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let tooltip = eval(
        &tab,
        "const t = document.getElementById('tooltip'); return { hidden: t.hidden, value: t.querySelector('.value') && t.querySelector('.value').textContent, canvas: t.querySelectorAll('canvas').length, text: t.textContent };",
    );
    assert_eq!(tooltip["hidden"], false, "{tooltip}");
    let shown: f64 = tooltip["value"].as_str().unwrap().parse().unwrap();
    assert!((shown - expected).abs() <= 1e-3 * expected.abs(), "tooltip {shown} vs {expected}");
    assert_eq!(tooltip["canvas"], 1, "the per-dimension row: {tooltip}");
    assert!(tooltip["text"].as_str().unwrap().contains("hate"), "{tooltip}");

    // The method switch changes the shading (grad-input on the LSTM shades otherwise than grad).
    let shading = "return [...document.querySelectorAll('section.compare .token')].map(t => t.style.backgroundColor);";
    let before = eval(&tab, shading);
    let options = eval(&tab, "return [...document.querySelector('.method-switch').options].map(o => o.value);");
    assert_eq!(options.as_array().unwrap().len(), 2, "{options}");
    eval(&tab, "const s = document.querySelector('.method-switch'); s.value = s.options[1].value; s.dispatchEvent(new Event('change')); return null;");
    let after = eval(&tab, shading);
    assert_ne!(before, after);
    assert_eq!(eval(&tab, "return document.querySelectorAll('section.compare .sentence .row').length;"), 3);

    // The hostile sentence is text: no element from it, its words shown as written.
    assert_eq!(eval(&tab, "return document.querySelectorAll('img, [onerror]').length;"), 0);
    let headings = eval(&tab, "return [...document.querySelectorAll('section.compare h3')].map(h => h.textContent);");
    assert!(headings.as_array().unwrap().iter().any(|h| h == HOSTILE), "{headings}");

    // t-SNE: one point per phrase, search, zoom, colour by predicted class.
    let projection = &results("tsne", "tsne.json")["results"][0];
    let phrases: Vec<&str> =
        projection["points"].as_array().unwrap().iter().map(|p| p["phrase"].as_str().unwrap()).collect();
    assert_eq!(eval(&tab, "return document.querySelectorAll('.scatter circle.point').length;"), phrases.len());
    eval(&tab, "const s = document.querySelector('.kind-tsne input.search'); s.value = 'not'; s.dispatchEvent(new Event('input')); return null;");
    let matches = phrases.iter().filter(|p| p.to_lowercase().contains("not")).count();
    assert!(matches > 0);
    assert_eq!(eval(&tab, "return document.querySelectorAll('.scatter circle.point.match').length;"), matches);
    let view = "return document.querySelector('.scatter').getAttribute('viewBox');";
    let full = eval(&tab, view);
    tab.find_element(".kind-tsne .zoom-in").unwrap().click().unwrap();
    assert_ne!(eval(&tab, view), full, "zoom changes the view");
    tab.find_element(".kind-tsne .zoom-reset").unwrap().click().unwrap();
    assert_eq!(eval(&tab, view), full);
    let point = tab.find_element(".scatter circle.point").unwrap();
    point.move_mouse_over().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let label = eval(&tab, "return document.getElementById('tooltip').textContent;");
    assert!(phrases.iter().any(|p| label.as_str().unwrap().starts_with(p)), "{label}");

    // The autoencoder: one matrix row per output token; a cell shows that step's map.
    let saliency = &results("autoencoder", "saliency.json")["results"][0];
    let outputs = saliency["output_tokens"].as_array().unwrap().len();
    assert_eq!(
        eval(&tab, "return document.querySelectorAll('.kind-autoencoder-saliency table.matrix tbody tr').length;"),
        outputs
    );
    tab.find_element(".kind-autoencoder-saliency table.matrix tbody td").unwrap().move_mouse_over().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(eval(&tab, "return document.querySelectorAll('#tooltip canvas').length;"), 1);

    // Each figure's own page works alone too.
    tab.navigate_to(&format!("file://{}", out.join("lstm-grad/index.html").display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("body[data-ready='true']").unwrap();
    assert_eq!(eval(&tab, "return document.querySelectorAll('.sentence').length;"), 3);

    let problems = problems.lock().unwrap();
    assert!(problems.is_empty(), "the page reported problems: {problems:?}");
}
