//! What a classifier tells apart: an SST task (the fixed five or two sentiment classes) or the
//! classes of the user's labelled text, named as in the data.
//!
//! [`Classes`] is the classifier's task: its number of classes, their names (for every figure,
//! CSV and JSON that names a class) and the mapping from a data set's labels to class indices.
//! In `config.json` and in results' provenance an SST task is written as before (`"fine"`,
//! `"binary"`), so old checkpoints and results read unchanged; labelled text's classes are
//! written as `{"classes": ["negative", "positive"]}`.
//!
//! ```
//! use salient::data::{Classes, Task};
//! let sst = Classes::from(Task::Binary);
//! assert_eq!(sst.names(), ["negative", "positive"]);
//! assert_eq!(serde_json::to_string(&sst).unwrap(), r#""binary""#);
//! let text = Classes::text(vec!["ham".into(), "spam".into()]).unwrap();
//! assert_eq!(text.num_classes(), 2);
//! assert_eq!(serde_json::to_string(&text).unwrap(), r#"{"classes":["ham","spam"]}"#);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::sst::Task;

/// The most classes labelled text may have (a tree's label is one byte).
pub const MAX_CLASSES: usize = 256;

/// A classifier's classes: an SST task, or named classes of labelled text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
pub enum Classes {
    /// An SST task: the trees' labels 0-4 mapped by the task, with its fixed names.
    Sst(Task),
    /// Classes of labelled text: one name per class, in class-index order (at least two,
    /// distinct, not empty, at most [`MAX_CLASSES`]). A data set's label is the class index.
    Text(Vec<String>),
}

/// The serialised form: a task name, or an object holding the class names.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Sst(Task),
    Text { classes: Vec<String> },
}

impl TryFrom<Repr> for Classes {
    type Error = String;

    fn try_from(repr: Repr) -> Result<Self, String> {
        match repr {
            Repr::Sst(task) => Ok(Classes::Sst(task)),
            Repr::Text { classes } => Classes::text(classes),
        }
    }
}

impl From<Classes> for Repr {
    fn from(classes: Classes) -> Self {
        match classes {
            Classes::Sst(task) => Repr::Sst(task),
            Classes::Text(classes) => Repr::Text { classes },
        }
    }
}

impl From<Task> for Classes {
    fn from(task: Task) -> Self {
        Classes::Sst(task)
    }
}

impl Classes {
    /// Named classes of labelled text, checked: at least two, none empty, no two alike, at most
    /// [`MAX_CLASSES`]. The error says which rule is broken.
    pub fn text(names: Vec<String>) -> Result<Self, String> {
        if names.len() < 2 {
            return Err(format!("a classifier needs at least two classes, got {}: {names:?}", names.len()));
        }
        if names.len() > MAX_CLASSES {
            return Err(format!("at most {MAX_CLASSES} classes are supported, got {}", names.len()));
        }
        if names.iter().any(|n| n.trim().is_empty()) {
            return Err(format!("a class name is empty: {names:?}"));
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(format!("class `{name}` is named twice: {names:?}"));
            }
        }
        Ok(Classes::Text(names))
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Classes::Sst(task) => task.num_classes(),
            Classes::Text(names) => names.len(),
        }
    }

    /// The class names, indexed by class.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Classes::Sst(task) => task.class_names().to_vec(),
            Classes::Text(names) => names.iter().map(String::as_str).collect(),
        }
    }

    /// Maps a tree label to a class index: an SST label (0-4) by the task
    /// ([`Task::map_label`]), labelled text's label (already a class index) unchanged when it
    /// is one of the classes.
    pub fn map_label(&self, label: u8) -> Option<u8> {
        match self {
            Classes::Sst(task) => task.map_label(label),
            Classes::Text(names) => (usize::from(label) < names.len()).then_some(label),
        }
    }

    /// Whether the data behind these classes labels phrases too (SST trees do; labelled text
    /// labels whole sentences only).
    pub fn has_phrase_labels(&self) -> bool {
        matches!(self, Classes::Sst(_))
    }

    /// A short name: `fine`, `binary` or `text`.
    pub fn name(&self) -> &'static str {
        match self {
            Classes::Sst(task) => task.name(),
            Classes::Text(_) => "text",
        }
    }
}

impl fmt::Display for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sst_tasks_serialise_as_before() {
        for task in Task::ALL {
            let classes = Classes::from(task);
            let json = serde_json::to_string(&classes).unwrap();
            assert_eq!(json, serde_json::to_string(&task).unwrap());
            assert_eq!(serde_json::from_str::<Classes>(&json).unwrap(), classes);
            assert_eq!(classes.names(), task.class_names());
            assert!(classes.has_phrase_labels());
        }
        assert_eq!(Classes::from(Task::Binary).map_label(3), Some(1));
        assert_eq!(Classes::from(Task::Binary).map_label(2), None);
    }

    #[test]
    fn text_classes_round_trip_and_map_labels() {
        let c = Classes::text(names(&["b", "a", "c"])).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"classes":["b","a","c"]}"#);
        assert_eq!(serde_json::from_str::<Classes>(&json).unwrap(), c);
        assert_eq!(c.names(), ["b", "a", "c"]);
        assert_eq!((c.map_label(2), c.map_label(3)), (Some(2), None));
        assert!(!c.has_phrase_labels());
        assert_eq!(c.to_string(), "text");
    }

    #[test]
    fn bad_class_lists_are_refused() {
        assert!(Classes::text(names(&["only"])).unwrap_err().contains("at least two"));
        assert!(Classes::text(names(&["a", " "])).unwrap_err().contains("empty"));
        assert!(Classes::text(names(&["a", "b", "a"])).unwrap_err().contains("`a` is named twice"));
        let many: Vec<String> = (0..=MAX_CLASSES).map(|i| i.to_string()).collect();
        assert!(Classes::text(many).unwrap_err().contains("at most 256"));
        let e = serde_json::from_str::<Classes>(r#"{"classes":["x"]}"#).unwrap_err().to_string();
        assert!(e.contains("at least two"), "{e}");
        assert!(serde_json::from_str::<Classes>(r#""sst9""#).is_err());
    }
}
