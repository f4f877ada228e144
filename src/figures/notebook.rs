//! Jupyter notebooks (nbformat 4.5): one more format of a figure's result.
//!
//! A figure directory's notebook, [`NOTEBOOK`], holds
//! - a markdown cell with the provenance: the model directory and the SHA-256 of its weights,
//!   the method (or view) and seed, the command that makes the figure again, the options with
//!   their defaults filled in and the settings actually used;
//! - a code cell that defines `DIR` (the figure's files, relative to the notebook) and small
//!   helpers for reading salient's CSV tables;
//! - one code cell per figure whose stored output is the SVG, so that every figure shows
//!   without running anything (running the cell shows the SVG file again);
//! - a code cell that reloads the numbers from the CSV with pandas and redraws one figure with
//!   matplotlib, to restyle.
//!
//! The notebook reads the SVG and CSV files beside it, so asking for `ipynb` writes those too.
//! An export spec joins the notebooks of its figures into one, named after the spec file
//! (`paper.toml` gives `paper.ipynb`), at the root of its output ([`write_joined`]).
//!
//! Text from the input (sentences, tokens, labels, paths) is escaped for where it goes: in
//! markdown every ASCII punctuation character is backslash-escaped and `<`, `>` and `&` are
//! written as entities, so no text becomes markup or maths; in code cells text appears only as
//! Python string literals written by [`py_str`] (every quote, backslash and non-printable
//! character escaped); tokens reach matplotlib through `label()`, which escapes `$`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Figure;
use crate::checkpoint::ModelSource;
use crate::error::{Error, Result};
use crate::export::{Format, OutputDir};

/// The notebook of a figure directory.
pub const NOTEBOOK: &str = "figures.ipynb";

/// The figure kind's redraw cell: which CSV it reads and how it draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redraw {
    /// `saliency.csv`: the first sentence's tokens x dimensions.
    Saliency,
    /// `heatmap.csv`: the first view's rows x dimensions.
    Heatmap,
    /// `tsne.csv`: the scatter, coloured by predicted class.
    Projection,
    /// `matrix.csv`: the first sentence's output x input tokens.
    Autoencoder,
    /// `faithfulness.csv`: comprehensiveness and sufficiency against the fraction removed.
    Faithfulness,
}

impl Redraw {
    fn code(self) -> &'static str {
        match self {
            Redraw::Saliency => REDRAW_SALIENCY,
            Redraw::Heatmap => REDRAW_HEATMAP,
            Redraw::Projection => REDRAW_PROJECTION,
            Redraw::Autoencoder => REDRAW_AUTOENCODER,
            Redraw::Faithfulness => REDRAW_FAITHFULNESS,
        }
    }
}

/// What a figure's notebook says about where the figure came from.
pub(crate) struct About<'a> {
    /// The figure's title.
    pub title: &'a str,
    /// The command that makes it again.
    pub command: String,
    /// The model, if any.
    pub model: Option<&'a ModelSource>,
    /// The options, defaults filled in.
    pub options: Value,
    /// The settings actually used.
    pub settings: &'a Value,
}

impl<'a> About<'a> {
    /// The provenance of a figure made with `options` by `command` (`salient saliency`) in
    /// `formats`.
    pub(crate) fn new<T: Figure>(
        title: &'a str,
        command: &str,
        options: &T,
        formats: &[Format],
        model: Option<&'a ModelSource>,
        settings: &'a Value,
    ) -> Self {
        let options = serde_json::to_value(options).unwrap_or(Value::Null);
        let defaults = serde_json::to_value(T::default()).unwrap_or(Value::Null);
        let command = command_line::<T>(command, &options, &defaults, formats);
        About { title, command, model, options, settings }
    }
}

/// A notebook, as nbformat 4.5 writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notebook {
    cells: Vec<Cell>,
    metadata: Value,
    nbformat: u32,
    nbformat_minor: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cell_type", rename_all = "lowercase")]
enum Cell {
    Markdown {
        id: String,
        metadata: Map<String, Value>,
        source: Vec<String>,
    },
    Code {
        id: String,
        metadata: Map<String, Value>,
        source: Vec<String>,
        outputs: Vec<Value>,
        execution_count: Option<u32>,
    },
}

impl Cell {
    fn markdown(id: &str, text: &str) -> Self {
        Cell::Markdown { id: id.into(), metadata: Map::new(), source: lines(text) }
    }

    fn code(id: &str, code: &str, outputs: Vec<Value>) -> Self {
        Cell::Code { id: id.into(), metadata: Map::new(), source: lines(code), outputs, execution_count: None }
    }

    fn id_mut(&mut self) -> &mut String {
        match self {
            Cell::Markdown { id, .. } | Cell::Code { id, .. } => id,
        }
    }
}

impl Notebook {
    fn new(cells: Vec<Cell>) -> Self {
        let metadata = json!({
            "kernelspec": { "name": "python3", "display_name": "Python 3", "language": "python" },
            "language_info": { "name": "python" },
        });
        Notebook { cells, metadata, nbformat: 4, nbformat_minor: 5 }
    }

    /// The notebook's bytes: pretty JSON and a final newline.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Encode { format: "ipynb", message: e.to_string() })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Text as nbformat stores it: lines, each but the last with its `\n`.
fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// The notebook of one figure directory: its provenance, its figures (`svgs`: file stem and SVG
/// text), and the redraw cell.
pub(crate) fn figure_notebook(about: &About, svgs: &[(String, String)], redraw: Redraw) -> Notebook {
    let mut cells = vec![
        Cell::markdown("provenance", &provenance(about)),
        Cell::code("imports", IMPORTS, Vec::new()),
        Cell::code("setup", &setup_code("."), Vec::new()),
    ];
    for (k, (stem, svg)) in svgs.iter().enumerate() {
        let file = format!("{stem}.svg");
        let code = format!("display(SVG(filename=str(DIR / {})))", py_str(&file));
        let output = json!({
            "output_type": "display_data",
            "data": { "image/svg+xml": lines(svg), "text/plain": [format!("<figure {file}>")] },
            "metadata": {},
        });
        cells.push(Cell::code(&format!("figure-{}", k + 1), &code, vec![output]));
    }
    cells.push(Cell::markdown(
        "redraw-note",
        "The numbers of the figures, from the CSV beside this notebook, redrawn with matplotlib: \
         change the colours, sizes or labels here.",
    ));
    cells.push(Cell::code("redraw", &format!("TITLE = {}\n{}", py_str(about.title), redraw.code()), Vec::new()));
    Notebook::new(cells)
}

/// The provenance cell's markdown.
fn provenance(about: &About) -> String {
    let mut text = format!("# {}\n\n", md_text(about.title));
    text += &format!(
        "Made by salient {}. Each figure is stored in this notebook and shows without running \
         anything; the last code cell reloads the numbers from the CSV beside it and redraws a \
         figure with matplotlib.\n\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(model) = about.model {
        text += &format!("- **model**: {}\n", md_text(&model.dir));
        text += &format!("- **weights SHA-256**: {}\n", md_text(&model.weights_sha256));
    }
    for (key, name) in [("method", "method"), ("methods", "methods"), ("view", "view"), ("seed", "seed")] {
        if let Some(value) = about.options.get(key).filter(|v| !v.is_null()) {
            let shown = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            text += &format!("- **{name}**: {}\n", md_text(&shown));
        }
    }
    text += "\nThe command (run with --out set to this notebook's directory):\n\n";
    text += &fenced("sh", &about.command);
    text += "\nThe options, defaults filled in:\n\n";
    text += &fenced("json", &serde_json::to_string_pretty(&about.options).unwrap_or_default());
    text += "\nThe settings used:\n\n";
    text += &fenced("json", &serde_json::to_string_pretty(about.settings).unwrap_or_default());
    text
}

/// A fenced code block around `code`, whose fence is longer than any run of backticks in it (so
/// nothing in it can end the block); control characters other than newlines become spaces.
fn fenced(language: &str, code: &str) -> String {
    let code: String = code.chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect();
    let longest = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{language}\n{code}\n{fence}\n")
}

/// Text as markdown that shows exactly the text: every ASCII punctuation character escaped with
/// a backslash (no emphasis, links, headings, tables or `$` maths), `<`, `>` and `&` as entities
/// (no HTML), control characters (line breaks included) as spaces.
pub(crate) fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '&' => out += "&amp;",
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Python string literal of `text`: double-quoted, with quotes, backslashes and every
/// character that is not printable ASCII escaped (`\n`, `\xNN`, `\uNNNN`, `\UNNNNNNNN`), so that
/// no text can end the string or the line.
pub(crate) fn py_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\t' => out += "\\t",
            '\r' => out += "\\r",
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out += &format!("\\x{:02x}", c as u32),
            c if (c as u32) < 0x10000 => out += &format!("\\u{:04x}", c as u32),
            c => out += &format!("\\U{:08x}", c as u32),
        }
    }
    out.push('"');
    out
}

/// A shell word: as it is when it needs no quoting, else in single quotes (`'\''` for a quote),
/// or `$'…'` with escapes when it holds control characters.
fn sh_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:=@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    if word.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in word.chars() {
            match c {
                '\'' => out += "\\'",
                '\\' => out += "\\\\",
                c if c.is_control() => out += &format!("\\U{:08x}", c as u32),
                c => out.push(c),
            }
        }
        out.push('\'');
        return out;
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The command line that makes a figure again: `command`, then each option that differs from
/// its default (named and delimited as the command's clap declaration says), then `--format`.
fn command_line<T: Figure>(command: &str, options: &Value, defaults: &Value, formats: &[Format]) -> String {
    let mut words: Vec<String> = vec![command.to_string()];
    let declared = T::augment_args(clap::Command::new("salient"));
    for arg in declared.get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Some(value)) = (arg.get_long(), options.get(id)) else { continue };
        if defaults.get(id) == Some(value) {
            continue;
        }
        let scalar = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut option = |value: String| {
            // `--key=value` keeps a value that starts with `-` from reading as an option.
            if value.starts_with('-') {
                words.push(sh_word(&format!("--{long}={value}")));
            } else {
                words.push(format!("--{long}"));
                words.push(sh_word(&value));
            }
        };
        match value {
            Value::Null | Value::Bool(false) => {}
            Value::Bool(true) => words.push(format!("--{long}")),
            Value::Array(items) => match arg.get_value_delimiter() {
                Some(d) if !items.is_empty() => {
                    option(items.iter().map(scalar).collect::<Vec<_>>().join(&d.to_string()))
                }
                _ => items.iter().for_each(|v| option(scalar(v))),
            },
            other => option(scalar(other)),
        }
    }
    let names: Vec<String> = Format::ALL
        .iter()
        .filter(|f| formats.contains(f))
        .filter_map(|f| clap::ValueEnum::to_possible_value(f).map(|v| v.get_name().to_string()))
        .collect();
    words.push(format!("--format {}", names.join(",")));
    words.join(" ")
}

/// The setup cell: imports, `DIR` (the figure's directory relative to the notebook) and the
/// helpers of the redraw cells.
fn setup_code(dir: &str) -> String {
    format!("DIR = Path({})  # this figure's files, relative to the notebook\n\n{SETUP}", py_str(dir))
}

const SETUP: &str = r#"# salient writes CSV cells safe for spreadsheets: `original` undoes that (a leading
# apostrophe before =, +, - or @, and control characters written as \u{hex}).
def original(cell):
    rest = cell.lstrip("'")
    if cell.startswith("'") and rest[:1] in ("=", "+", "-", "@"):
        cell = cell[1:]
    out, i = [], 0
    while i < len(cell):
        if cell.startswith("\\\\u{", i):
            out.append("\\u{")
            i += 4
            continue
        if cell.startswith("\\u{", i):
            end = cell.find("}", i + 3)
            if end != -1:
                try:
                    out.append(chr(int(cell[i + 3:end], 16)))
                    i = end + 1
                    continue
                except ValueError:
                    pass
        out.append(cell[i])
        i += 1
    return "".join(out)


def read_table(name, numbers=("value",)):
    """A CSV table of this figure: text columns as written, `numbers` as floats."""
    table = pd.read_csv(DIR / name, dtype=str, keep_default_na=False)
    for column in table.columns:
        if column in numbers:
            table[column] = pd.to_numeric(table[column])
        else:
            table[column] = table[column].map(original)
    return table


def label(text):
    """Text for matplotlib, shown as it is (`$` would start maths)."""
    return str(text).replace("$", r"\$")


def draw_matrix(values, rows, columns, title, xlabel=""):
    """A heatmap: rows x columns, diverging colours for signed values."""
    values = np.asarray(values, dtype=float)
    signed = bool(np.nanmin(values) < 0) if values.size else False
    top = float(np.nanmax(np.abs(values))) if values.size else 1.0
    top = top if np.isfinite(top) and top > 0 else 1.0
    fig, ax = plt.subplots(figsize=(min(3 + 0.2 * values.shape[1], 14), 1.5 + 0.35 * values.shape[0]))
    image = ax.imshow(values, aspect="auto", interpolation="nearest",
                      cmap="RdBu_r" if signed else "viridis", vmin=-top if signed else 0.0, vmax=top)
    step = max(1, len(columns) // 20)
    ax.set_xticks(range(0, len(columns), step), [label(c) for c in columns[::step]])
    if any(len(str(c)) > 3 for c in columns):
        ax.tick_params(axis="x", labelrotation=90)
    ax.set_yticks(range(len(rows)), [label(r) for r in rows])
    ax.set_xlabel(label(xlabel))
    ax.set_title(label(title))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig
"#;

/// The imports every notebook starts with (once, in the first code cell).
const IMPORTS: &str = "from pathlib import Path\n\nimport matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\nfrom IPython.display import SVG, display\n";

const REDRAW_SALIENCY: &str = r#"table = read_table("saliency.csv", numbers=("position", "dimension", "value"))
sentence = table["sentence"].iloc[0]
one = table[table["sentence"] == sentence]
matrix = one.pivot(index="position", columns="dimension", values="value").sort_index().sort_index(axis=1)
words = one.drop_duplicates("position").set_index("position")["word"].sort_index()
fig = draw_matrix(matrix.to_numpy(), list(words), [str(int(c)) for c in matrix.columns],
                  f"{TITLE}\nsentence {sentence}", "embedding dimension")
plt.show()
"#;

const REDRAW_HEATMAP: &str = r#"table = read_table("heatmap.csv")
view = table["view"].iloc[0]
one = table[table["view"] == view].copy()
one["row"] = one["sentence"] + "/" + one["position"]
rows = list(dict.fromkeys(one["row"]))
columns = list(dict.fromkeys(one["dimension"]))
matrix = one.pivot(index="row", columns="dimension", values="value").reindex(index=rows, columns=columns)
tokens = one.drop_duplicates("row").set_index("row")["token"].reindex(rows)
fig = draw_matrix(matrix.to_numpy(), list(tokens), columns, f"{TITLE}\n{view}", "dimension")
plt.show()
"#;

const REDRAW_PROJECTION: &str = r#"table = read_table("tsne.csv", numbers=("x", "y"))
fig, ax = plt.subplots(figsize=(8, 7))
for predicted, group in table.groupby("predicted", sort=False):
    ax.scatter(group["x"], group["y"], s=14, label=label(predicted))
for _, point in table[table["highlighted"] == "true"].iterrows():
    ax.annotate(label(point["phrase"]), (point["x"], point["y"]), fontsize=8)
ax.legend(title="predicted")
ax.set_title(label(TITLE))
plt.show()
"#;

const REDRAW_AUTOENCODER: &str = r#"table = read_table("matrix.csv", numbers=("output_position", "input_position", "value"))
sentence = table["sentence"].iloc[0]
one = table[table["sentence"] == sentence]
matrix = one.pivot(index="output_position", columns="input_position", values="value").sort_index().sort_index(axis=1)
outputs = one.drop_duplicates("output_position").set_index("output_position")["output_token"].sort_index()
inputs = one.drop_duplicates("input_position").set_index("input_position")["input_word"].sort_index()
fig = draw_matrix(matrix.to_numpy(), list(outputs), list(inputs), f"{TITLE}\nsentence {sentence}", "input token")
plt.show()
"#;

const REDRAW_FAITHFULNESS: &str = r#"table = read_table("faithfulness.csv")
curves = table[table["fraction"] != ""].copy()
curves["fraction"] = pd.to_numeric(curves["fraction"])
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, measure in zip(axes, ["comprehensiveness", "sufficiency"]):
    for method, group in curves[curves["measure"] == measure].groupby("method", sort=False):
        ax.plot(group["fraction"], group["value"], marker="o", label=label(method))
    ax.set_xlabel("fraction of tokens")
    ax.set_title(measure)
    ax.legend()
fig.suptitle(label(TITLE))
plt.show()
"#;

/// The cell id a figure's cell gets in a joined notebook: `f<k>-<id>` (ids are unique in a
/// notebook).
fn joined_id(figure: usize, id: &str) -> String {
    format!("f{figure}-{id}")
}

/// One figure of a joined notebook: its name (its directory, relative to the notebook), and
/// whether it was made (else why not).
pub(crate) struct Part<'a> {
    /// The figure's directory name.
    pub name: &'a str,
    /// `Err(why)` when the figure failed.
    pub made: std::result::Result<(), &'a str>,
    /// Whether it has a notebook (it was asked for `ipynb`).
    pub has_notebook: bool,
}

/// Join the notebooks of `parts` (each `<name>/figures.ipynb` under `out`) into `name` at `out`:
/// a first cell naming the spec and the command, then each figure's cells with `DIR` set to the
/// figure's directory and its headings one level down. A failed figure is named with its error.
pub(crate) fn write_joined(out: &OutputDir, name: &str, spec: &str, spec_sha256: &str, parts: &[Part]) -> Result<()> {
    let mut intro = format!("# {}\n\n", md_text(name.trim_end_matches(".ipynb")));
    intro += &format!(
        "Every figure of the export spec {} (SHA-256 {}), made by salient {}; each section is the \
         notebook of one figure directory, with `DIR` set to that directory.\n\n",
        md_text(spec),
        md_text(spec_sha256),
        env!("CARGO_PKG_VERSION"),
    );
    intro += &fenced("sh", &format!("salient export --spec {} --out {}", sh_word(spec), sh_word(".")));
    let mut cells = vec![Cell::markdown("spec", &intro), Cell::code("imports", IMPORTS, Vec::new())];
    for (k, part) in parts.iter().enumerate() {
        let k = k + 1;
        if let Err(why) = part.made {
            let text = format!("## {}\n\nThis figure failed: {}\n", md_text(part.name), md_text(why));
            cells.push(Cell::markdown(&joined_id(k, "failed"), &text));
            continue;
        }
        if !part.has_notebook {
            continue;
        }
        let path = out.path().join(part.name).join(NOTEBOOK);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let figure: Notebook = serde_json::from_slice(&bytes).map_err(|e| Error::Notebook {
            path: path.clone(),
            message: format!("not a notebook salient wrote: {e}"),
        })?;
        for mut cell in figure.cells {
            let id = cell.id_mut().clone();
            match (&mut cell, id.as_str()) {
                (Cell::Code { .. }, "imports") => continue,
                (Cell::Code { source, .. }, "setup") => *source = lines(&setup_code(part.name)),
                (Cell::Markdown { source, .. }, "provenance") => {
                    if let Some(first) = source.first_mut() {
                        *first = format!("#{first}");
                    }
                }
                _ => {}
            }
            *cell.id_mut() = joined_id(k, &id);
            cells.push(cell);
        }
    }
    let notebook = Notebook::new(cells);
    out.write(name, &notebook.to_json()?)?;
    Ok(())
}

/// The file name of the notebook an export spec at `spec_path` joins: its stem and `.ipynb`.
pub(crate) fn joined_name(spec_path: &Path) -> String {
    let stem = spec_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if stem.is_empty() || stem.starts_with('.') {
        "export.ipynb".into()
    } else {
        format!("{stem}.ipynb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "<img src=x onerror=alert(1)>",
        "\"\"\" ''' \\ \\n",
        "a $x$ *b* _c_ [l](javascript:x) # h | t ` ```",
        "line\nbreak\r\ttab \u{0}\u{1b}[31m \u{7f} é ☃ 😀 \u{2028}",
        "-lrb- =SUM(A1)",
        "",
    ];

    #[test]
    fn markdown_text_has_no_markup() {
        assert_eq!(md_text("<b>*x*</b> & $y$"), "&lt;b&gt;\\*x\\*&lt;\\/b&gt; &amp; \\$y\\$");
        assert_eq!(md_text("a\nb"), "a b");
        for text in HOSTILE {
            let md = md_text(text);
            assert!(!md.contains(['<', '>', '\n', '\r']), "{md}");
            let chars: Vec<char> = md.chars().collect();
            for (k, c) in chars.iter().enumerate().filter(|(_, c)| c.is_ascii_punctuation() && !"\\&;".contains(**c)) {
                assert_eq!(chars.get(k.wrapping_sub(1)), Some(&'\\'), "{c} unescaped in {md}");
            }
        }
    }

    #[test]
    fn fences_outlast_any_backticks_inside() {
        assert_eq!(fenced("sh", "a"), "```sh\na\n```\n");
        assert_eq!(fenced("", "x ```` y"), "`````\nx ```` y\n`````\n");
        assert_eq!(fenced("", "a\u{0}b"), "```\na b\n```\n");
    }

    /// Python (where there is one) reads each literal back as the text.
    #[test]
    fn python_string_literals_give_back_the_text() {
        assert_eq!(py_str("a\"b\\c\nd é"), "\"a\\\"b\\\\c\\nd \\xe9\"");
        for text in HOSTILE {
            let literal = py_str(text);
            assert!(literal[1..literal.len() - 1].chars().all(|c| (' '..='~').contains(&c)), "{literal}");
        }
        let program = format!(
            "import sys\nfor t in [{}]:\n    sys.stdout.buffer.write(t.encode('utf-8', 'surrogatepass') + b'\\xff')\n",
            HOSTILE.iter().map(|t| py_str(t)).collect::<Vec<_>>().join(", ")
        );
        let Ok(out) = std::process::Command::new("python3").args(["-c", &program]).output() else {
            eprintln!("no python3: literals checked without Python");
            return;
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let texts: Vec<&[u8]> = out.stdout.split(|&b| b == 0xff).collect();
        for (text, back) in HOSTILE.iter().zip(texts) {
            assert_eq!(back, text.as_bytes());
        }
    }

    /// bash (where there is one) reads each word back as the text.
    #[test]
    fn shell_words_give_back_the_text() {
        assert_eq!(sh_word("data/models/x"), "data/models/x");
        assert_eq!(sh_word("it's"), "'it'\\''s'");
        let words: Vec<String> = HOSTILE.iter().map(|t| sh_word(t)).collect();
        let Ok(out) =
            std::process::Command::new("bash").args(["-c", &format!("printf '%s\\0' {}", words.join(" "))]).output()
        else {
            eprintln!("no bash: words checked without a shell");
            return;
        };
        assert!(out.status.success());
        let back: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        for (text, back) in HOSTILE.iter().zip(back) {
            // A shell word cannot hold NUL: bash ends the word there.
            let expected = text.split('\u{0}').next().unwrap();
            assert_eq!(back, expected.as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn a_joined_notebook_is_named_after_its_spec() {
        assert_eq!(joined_name(Path::new("examples/paper.toml")), "paper.ipynb");
        assert_eq!(joined_name(Path::new("x/.hidden")), "export.ipynb");
    }
}
