//! Writing autoencoder saliency: per sentence an output × input matrix figure and one tokens ×
//! dimensions figure per output step (SVG), the numbers as CSV, and the results as JSON.

use crate::error::Result;
use crate::explain::autoencoder::ReconstructionSaliency;
use crate::export::{self, Document, Failure, Format, IndexEntry, OutputDir};
use crate::render::{fitting_column_width, heatmap_svg, Heatmap, RenderOptions, ScaleOptions};

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconstructionFiles {
    /// Which formats: SVG figures (and `index.html`), CSV (`matrix.csv`, `gradients.csv`),
    /// JSON (`saliency.json`).
    pub formats: Vec<Format>,
    /// Also draw one map per output step.
    pub steps: bool,
    /// Colour scales (the matrices and the step maps are scaled apart: their numbers differ in
    /// kind).
    pub scale: ScaleOptions,
    /// Title of the index page.
    pub title: String,
    /// The command recorded in the JSON document.
    pub command: String,
}

fn matrix_name(sentence: usize) -> String {
    format!("sentence-{sentence:04}.svg")
}

fn step_name(sentence: usize, t: usize) -> String {
    format!("sentence-{sentence:04}-step-{:02}.svg", t + 1)
}

/// Every file name [`write`] would create, to check before any work that none exists.
pub fn file_names(results: &[ReconstructionSaliency], files: &ReconstructionFiles) -> Vec<String> {
    let mut names = Vec::new();
    if files.formats.contains(&Format::Svg) {
        for r in results {
            names.push(matrix_name(r.sentence));
            if files.steps {
                names.extend((0..r.output_tokens.len()).map(|t| step_name(r.sentence, t)));
            }
        }
        names.push("index.html".into());
    }
    if files.formats.contains(&Format::Csv) {
        names.extend(["matrix.csv".to_string(), "gradients.csv".to_string()]);
    }
    if files.formats.contains(&Format::Json) {
        names.push("saliency.json".into());
    }
    names
}

/// Write `results` (and the `failures`, into the index and the JSON) to `out`; `on_figure` is
/// called after each SVG. Returns the names written.
pub fn write(
    out: &OutputDir,
    results: &[ReconstructionSaliency],
    failures: &[Failure],
    files: &ReconstructionFiles,
    on_figure: &mut dyn FnMut(),
) -> Result<Vec<String>> {
    let names = file_names(results, files);
    out.check_free(&names)?;
    if files.formats.contains(&Format::Svg) {
        let matrices: Vec<Heatmap> = results.iter().map(ReconstructionSaliency::matrix_heatmap).collect();
        let ranges = files.scale.ranges(&matrices)?;
        for ((r, map), range) in results.iter().zip(&matrices).zip(ranges) {
            let options = RenderOptions {
                range: Some(range),
                column_width: Some(fitting_column_width(&map.column_labels)),
                ..Default::default()
            };
            out.write(&matrix_name(r.sentence), heatmap_svg(map, &options)?.as_bytes())?;
            on_figure();
        }
        if files.steps {
            let steps: Vec<(String, Heatmap)> = results
                .iter()
                .flat_map(|r| (0..r.output_tokens.len()).map(move |t| (step_name(r.sentence, t), r.step_heatmap(t))))
                .collect();
            let maps: Vec<Heatmap> = steps.iter().map(|(_, m)| m.clone()).collect();
            for ((name, map), range) in steps.iter().zip(files.scale.ranges(&maps)?) {
                out.write(
                    name,
                    heatmap_svg(map, &RenderOptions { range: Some(range), ..Default::default() })?.as_bytes(),
                )?;
                on_figure();
            }
        }
        let entries: Vec<IndexEntry> = results
            .iter()
            .map(|r| {
                let mut f = vec![matrix_name(r.sentence)];
                if files.steps {
                    f.extend((0..r.output_tokens.len()).map(|t| step_name(r.sentence, t)));
                }
                IndexEntry { caption: format!("#{}: {}", r.sentence, r.text), files: f, error: None }
            })
            .chain(failures.iter().map(|f| IndexEntry {
                caption: f.at.clone(),
                files: Vec::new(),
                error: Some(f.message.clone()),
            }))
            .collect();
        out.write("index.html", export::index_html(&files.title, &entries).as_bytes())?;
    }
    if files.formats.contains(&Format::Csv) {
        out.write("matrix.csv", &export::csv::reconstruction_matrix(results)?)?;
        out.write("gradients.csv", &export::csv::reconstruction_gradients(results)?)?;
    }
    if files.formats.contains(&Format::Json) {
        out.write("saliency.json", &Document::new(&files.command, results.to_vec(), failures.to_vec()).to_json()?)?;
    }
    Ok(names)
}

/// How many SVG figures [`write`] draws (for progress bars).
pub fn figure_count(results: &[ReconstructionSaliency], files: &ReconstructionFiles) -> usize {
    if !files.formats.contains(&Format::Svg) {
        return 0;
    }
    results.iter().map(|r| 1 + if files.steps { r.output_tokens.len() } else { 0 }).sum()
}
