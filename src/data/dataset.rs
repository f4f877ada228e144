//! A data directory's splits, SST trees or labelled text, found by their file names.
//!
//! A split `<split>` (train, dev, test) of a directory is exactly one of these files:
//! `<split>.txt.gz` or `<split>.txt` (SST trees, see [`sst`](super::sst)), or
//! `<split>.tsv`, `<split>.csv`, `<split>.jsonl`, each optionally `.gz` (labelled text, see
//! [`labelled`](super::labelled)). When several exist for one split, which is meant is
//! unclear and reading it is an error that lists them all (keep one in the directory). Each
//! split is looked up on its own, so a directory may hold train as `.tsv` and dev as `.jsonl`.
//!
//! SST trees go with a classifier of an SST task, labelled text with one of labelled text's
//! classes ([`Classes`]); reading one for the other is an error.

use std::path::{Path, PathBuf};

use super::classes::Classes;
use super::labelled::{self, Fields};
use super::sst::{self, Split, Task, Tree};
use crate::error::{LabelledError, Result, SstError};

/// Where a split is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitFile {
    /// SST trees (the file is found, and checked, by the SST reader).
    Sst,
    /// A labelled-text file.
    Text(PathBuf),
}

/// Find the file of `split` in `dir` (see the [module documentation](self)).
pub fn find_split(dir: &Path, split: Split) -> Result<SplitFile> {
    let exists = |path: &PathBuf| match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(SstError::Io { path: path.clone(), source }),
    };
    let mut text = Vec::new();
    for path in labelled::candidates(dir, split.name()) {
        if exists(&path)? {
            text.push(path);
        }
    }
    if text.is_empty() {
        return Ok(SplitFile::Sst);
    }
    let mut found = Vec::new();
    for path in [dir.join(format!("{split}.txt.gz")), dir.join(format!("{split}.txt"))] {
        if exists(&path)? {
            found.push(path);
        }
    }
    if found.is_empty() && text.len() == 1 {
        return Ok(SplitFile::Text(text.remove(0)));
    }
    found.extend(text);
    Err(LabelledError::Ambiguous { split: split.name().to_string(), found }.into())
}

/// The classes to train with on the train split of `dir`: an SST `task` for SST trees; for
/// labelled text the classes `names` when given (in that order), otherwise those of the
/// labels ([`labelled::infer_classes`]). A task for labelled text, no task for SST trees, or
/// class names for SST trees is an error.
pub fn train_classes(dir: &Path, task: Option<Task>, fields: &Fields, names: Option<Vec<String>>) -> Result<Classes> {
    let mismatch = |path: PathBuf, message: &str| LabelledError::Mismatch { path, message: message.to_string() };
    match find_split(dir, Split::Train)? {
        SplitFile::Sst => {
            let path = dir.to_path_buf();
            match (task, names) {
                (_, Some(_)) => {
                    Err(mismatch(path, "SST trees have fixed classes; class names are for labelled text").into())
                }
                (None, None) => Err(mismatch(path, "SST trees need a task: fine (5 classes) or binary (2)").into()),
                (Some(task), None) => Ok(Classes::Sst(task)),
            }
        }
        SplitFile::Text(path) => {
            if task.is_some() {
                return Err(mismatch(path, "labelled text has its own classes; fine and binary are SST tasks").into());
            }
            match names {
                Some(names) => Ok(Classes::text(names).map_err(|message| LabelledError::Classes { path, message })?),
                None => {
                    let rows = labelled::read_rows(&path, fields)?;
                    Ok(labelled::infer_classes(&rows, &path)?)
                }
            }
        }
    }
}

/// The examples of `split` in `dir` as trees, for a classifier of `classes`: SST trees (at
/// least one sentence the task scores, see [`sst::load_split_for`]), or labelled text as
/// one-span trees whose labels are class indices ([`labelled::resolve`]; at least one row).
/// Trees and texts have at most `max_tokens` tokens.
pub fn load_split_for(
    dir: &Path,
    split: Split,
    classes: &Classes,
    fields: &Fields,
    max_tokens: usize,
) -> Result<Vec<Tree>> {
    match (find_split(dir, split)?, classes) {
        (SplitFile::Sst, Classes::Sst(task)) => Ok(sst::load_split_for(dir, split, *task, max_tokens)?),
        (SplitFile::Sst, Classes::Text(names)) => Err(LabelledError::Mismatch {
            path: dir.to_path_buf(),
            message: format!(
                "no labelled-text file for the {split} split (SST trees are read instead), but the classifier \
                 was trained on labelled text (classes {}); give a directory of labelled text",
                names.join(", ")
            ),
        }
        .into()),
        (SplitFile::Text(path), Classes::Sst(task)) => Err(LabelledError::Mismatch {
            path,
            message: format!(
                "labelled text, but the classifier was trained on SST trees ({task} task); give SST trees"
            ),
        }
        .into()),
        (SplitFile::Text(path), classes) => {
            let rows = labelled::read_rows(&path, fields)?;
            if rows.is_empty() {
                return Err(LabelledError::Empty { path, split: split.name().to_string() }.into());
            }
            labelled::resolve(&rows, classes, &path, max_tokens)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_is_one_file_of_any_format() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(find_split(d, Split::Train).unwrap(), SplitFile::Sst, "nothing: the SST reader reports it");
        std::fs::write(d.join("train.csv"), "text,label\ngood,pos\nbad,neg\n").unwrap();
        std::fs::write(d.join("dev.jsonl"), "{\"text\": \"fine\", \"label\": \"pos\"}\n").unwrap();
        assert_eq!(find_split(d, Split::Train).unwrap(), SplitFile::Text(d.join("train.csv")));
        let classes = train_classes(d, None, &Fields::default(), None).unwrap();
        assert_eq!(classes.names(), ["neg", "pos"]);
        let dev = load_split_for(d, Split::Dev, &classes, &Fields::default(), 10).unwrap();
        assert_eq!((dev.len(), dev[0].root_label()), (1, 1));
        let fixed = train_classes(d, None, &Fields::default(), Some(vec!["pos".into(), "neg".into()])).unwrap();
        assert_eq!(load_split_for(d, Split::Dev, &fixed, &Fields::default(), 10).unwrap()[0].root_label(), 0);

        let e = train_classes(d, Some(Task::Fine), &Fields::default(), None).unwrap_err().to_string();
        assert!(e.contains("train.csv: labelled text has its own classes"), "{e}");
        let e = load_split_for(d, Split::Dev, &Classes::Sst(Task::Fine), &Fields::default(), 10).unwrap_err();
        assert!(e.to_string().contains("dev.jsonl: labelled text, but the classifier was trained on SST trees"), "{e}");

        std::fs::write(d.join("train.txt"), "(2 a)\n").unwrap();
        std::fs::write(d.join("train.tsv.gz"), "").unwrap();
        let e = find_split(d, Split::Train).unwrap_err().to_string();
        for name in ["train.txt", "train.tsv.gz", "train.csv"] {
            assert!(e.contains(&d.join(name).display().to_string()), "{e}");
        }
        assert!(e.contains("keep one of them"), "{e}");

        std::fs::write(d.join("test.tsv"), "text\tlabel\n").unwrap();
        let e = load_split_for(d, Split::Test, &classes, &Fields::default(), 10).unwrap_err().to_string();
        assert!(e.contains("test.tsv: no examples; the test split needs at least one"), "{e}");
    }

    #[test]
    fn sst_directories_read_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("train.txt"), "(3 (2 a) (4 b))\n").unwrap();
        let e = train_classes(d, None, &Fields::default(), None).unwrap_err().to_string();
        assert!(e.contains("SST trees need a task"), "{e}");
        let e = train_classes(d, Some(Task::Binary), &Fields::default(), Some(vec!["a".into(), "b".into()]));
        assert!(e.unwrap_err().to_string().contains("SST trees have fixed classes"));
        let classes = train_classes(d, Some(Task::Binary), &Fields::default(), None).unwrap();
        assert_eq!(classes, Classes::Sst(Task::Binary));
        let trees = load_split_for(d, Split::Train, &classes, &Fields::default(), 10).unwrap();
        assert_eq!(trees, sst::load_split(d, Split::Train, 10).unwrap());
        let text = Classes::text(vec!["a".into(), "b".into()]).unwrap();
        let e = load_split_for(d, Split::Train, &text, &Fields::default(), 10).unwrap_err().to_string();
        assert!(e.contains("but the classifier was trained on labelled text (classes a, b)"), "{e}");
    }
}
