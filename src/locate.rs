//! Models and data sets by name, from any working directory.
//!
//! `--model lstm-fine` and `--data sst` name a shipped model or data set instead of giving its
//! directory. A value that is a path that exists is that path. Otherwise a *name* (one path
//! component: no `/`, no `.` or `..`) is looked up in these directories, and the first that
//! holds a directory of that name wins:
//!
//! | | models | data sets |
//! | --- | --- | --- |
//! | 1. an environment variable naming a directory | `$SALIENT_MODELS` | `$SALIENT_DATA` |
//! | 2. the repository salient was built from, if it is still there | `data/models` | `data` |
//! | 3. the user's data directory | `$XDG_DATA_HOME/salient/models` | `$XDG_DATA_HOME/salient/data` |
//!
//! (`$XDG_DATA_HOME` is `~/.local/share` when unset.) A name found in none of them is an
//! [`Error::UnknownName`] that lists the directories searched and the names they hold; a path
//! of several components that does not exist is returned as it is, for the loader to report.
//! A directory found under the working directory is given relative to it (from the repository
//! root, `bilstm-fine` is `data/models/bilstm-fine`, as it was always recorded).

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// What is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Model directories (`config.json`, `model.safetensors`, `tokenizer.json`).
    Model,
    /// Data sets: directories of `train`, `dev` and `test` files.
    Data,
}

impl Kind {
    /// The environment variable that names a directory of this kind.
    pub fn variable(self) -> &'static str {
        match self {
            Kind::Model => "SALIENT_MODELS",
            Kind::Data => "SALIENT_DATA",
        }
    }

    /// Its folder under the repository and under the user's data directory.
    fn folder(self) -> &'static str {
        match self {
            Kind::Model => "models",
            Kind::Data => "data",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Data => "data set",
        }
    }

    /// Whether `dir` looks like one of this kind (for listing names, not for lookup).
    fn holds(self, dir: &Path) -> bool {
        match self {
            Kind::Model => {
                use crate::checkpoint::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
                [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE].iter().any(|f| dir.join(f).is_file())
            }
            Kind::Data => std::fs::read_dir(dir).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    ["train.", "dev.", "test."].iter().any(|split| name.starts_with(split))
                })
            }),
        }
    }
}

/// One directory searched, and why it is searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The directory.
    pub dir: PathBuf,
    /// Where it comes from (`$SALIENT_MODELS`, the build repository, the user data directory).
    pub origin: String,
}

/// One model or data set found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name (its directory's name).
    pub name: String,
    /// Its directory (relative to the working directory when under it).
    pub dir: PathBuf,
    /// Where its directory was found ([`Place::origin`]).
    pub origin: String,
}

/// The directories a name is looked up in, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    kind: Kind,
    places: Vec<Place>,
}

impl SearchPath {
    /// The search path for `kind` from this process's environment.
    pub fn from_env(kind: Kind) -> SearchPath {
        SearchPath::from_vars(kind, |name| std::env::var_os(name))
    }

    /// Models: `$SALIENT_MODELS`, the build repository's `data/models`, the user's.
    pub fn models() -> SearchPath {
        SearchPath::from_env(Kind::Model)
    }

    /// Data sets: `$SALIENT_DATA`, the build repository's `data`, the user's.
    pub fn data() -> SearchPath {
        SearchPath::from_env(Kind::Data)
    }

    /// The search path for `kind` with environment variables read by `var`.
    fn from_vars(kind: Kind, var: impl Fn(&str) -> Option<OsString>) -> SearchPath {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut places = Vec::new();
        if let Some(dir) = set(kind.variable()) {
            places.push(Place { dir, origin: format!("${}", kind.variable()) });
        }
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let repository = match kind {
            Kind::Model => repository.join("models"),
            Kind::Data => repository,
        };
        if repository.is_dir() {
            places.push(Place { dir: repository, origin: "the repository salient was built from".into() });
        }
        // XDG: a relative $XDG_DATA_HOME is invalid and ignored.
        let user = set("XDG_DATA_HOME")
            .filter(|d| d.is_absolute())
            .or_else(|| set("HOME").map(|home| home.join(".local").join("share")));
        if let Some(user) = user {
            places.push(Place {
                dir: user.join("salient").join(kind.folder()),
                origin: "the user data directory".into(),
            });
        }
        SearchPath { kind, places }
    }

    /// The directories searched, in order.
    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// The directory `given` stands for: `given` itself if it exists; else, for a name, the
    /// first directory of that name in the search path; else `given` (a path for the loader to
    /// report). A name found nowhere is an error listing what was searched and what is there.
    pub fn resolve(&self, given: &Path) -> Result<PathBuf> {
        if given.exists() {
            return Ok(given.to_path_buf());
        }
        let Some(name) = name_of(given) else { return Ok(given.to_path_buf()) };
        if let Some(place) = self.places.iter().find(|p| p.dir.join(name).is_dir()) {
            return Ok(relative_to_working_dir(place.dir.join(name)));
        }
        Err(Error::UnknownName {
            what: self.kind.what(),
            name: name.to_string(),
            variable: self.kind.variable(),
            searched: self
                .places
                .iter()
                .map(|p| {
                    let missing = if p.dir.is_dir() { "" } else { ", missing" };
                    format!("{} ({}{missing})", p.dir.display(), p.origin)
                })
                .collect(),
            available: self.entries().into_iter().map(|e| e.name).collect(),
        })
    }

    /// Every name the search path holds (models: directories with a `config.json`,
    /// `model.safetensors` or `tokenizer.json`, broken ones included; data sets: directories with
    /// a train, dev or test file), each where a lookup finds it, sorted by name.
    pub fn entries(&self) -> Vec<Entry> {
        let mut found: Vec<Entry> = Vec::new();
        for place in &self.places {
            let Ok(dirs) = std::fs::read_dir(&place.dir) else { continue };
            let mut here: Vec<Entry> = dirs
                .flatten()
                .filter(|e| e.path().is_dir() && self.kind.holds(&e.path()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|name| !found.iter().any(|f| &f.name == name))
                .map(|name| Entry {
                    dir: relative_to_working_dir(place.dir.join(&name)),
                    name,
                    origin: place.origin.clone(),
                })
                .collect();
            found.append(&mut here);
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }
}

/// The name `path` is, if it is one plain component (`lstm-fine`, not `./lstm-fine` or `a/b`).
fn name_of(path: &Path) -> Option<&str> {
    let mut components = path.components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) => name.to_str(),
        _ => None,
    }
}

/// `dir` relative to the working directory when it lies under it.
fn relative_to_working_dir(dir: PathBuf) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) => match dir.strip_prefix(&cwd) {
            Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
            _ => dir,
        },
        Err(_) => dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_dir(root: &Path, name: &str) {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("config.json"), "{}").unwrap();
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a Path)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_os_str().to_owned())
    }

    #[test]
    fn names_resolve_in_order_and_paths_win() {
        let env_dir = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        let user = xdg.path().join("salient/models");
        model_dir(env_dir.path(), "mine");
        model_dir(&user, "mine");
        model_dir(&user, "theirs");
        let search = SearchPath::from_vars(
            Kind::Model,
            vars(&[("SALIENT_MODELS", env_dir.path()), ("XDG_DATA_HOME", xdg.path())]),
        );
        let origins: Vec<&str> = search.places().iter().map(|p| p.origin.as_str()).collect();
        assert_eq!(origins, ["$SALIENT_MODELS", "the repository salient was built from", "the user data directory"]);
        // The variable's directory comes first; the user's is searched after the repository's.
        assert_eq!(search.resolve(Path::new("mine")).unwrap(), env_dir.path().join("mine"));
        assert_eq!(search.resolve(Path::new("theirs")).unwrap(), user.join("theirs"));
        let shipped = search.resolve(Path::new("lstm-fine")).unwrap();
        assert!(shipped.join("config.json").is_file(), "{}", shipped.display());
        // A path that exists is itself, even when a model of its name is in the search path.
        let here = tempfile::tempdir().unwrap();
        let path = here.path().join("mine");
        std::fs::create_dir(&path).unwrap();
        assert_eq!(search.resolve(&path).unwrap(), path);
        // A path that does not exist is left to the loader.
        assert_eq!(search.resolve(Path::new("runs/none")).unwrap(), Path::new("runs/none"));
        assert_eq!(search.resolve(Path::new("./mine")).unwrap(), Path::new("./mine"));
    }

    #[test]
    fn an_unknown_name_lists_the_places_and_the_names() {
        let env_dir = tempfile::tempdir().unwrap();
        model_dir(env_dir.path(), "mine");
        std::fs::create_dir(env_dir.path().join("not-a-model")).unwrap();
        let search = SearchPath::from_vars(Kind::Model, vars(&[("SALIENT_MODELS", env_dir.path())]));
        let err = search.resolve(Path::new("lstm-fin")).unwrap_err();
        let Error::UnknownName { name, searched, available, .. } = &err else { panic!("{err}") };
        assert_eq!(name, "lstm-fin");
        assert_eq!(searched.len(), 2, "{searched:?}: $SALIENT_MODELS and the repository; no HOME given");
        assert!(searched[0].starts_with(&env_dir.path().display().to_string()), "{searched:?}");
        assert!(available.contains(&"mine".to_string()) && available.contains(&"lstm-fine".to_string()));
        assert!(!available.contains(&"not-a-model".to_string()), "a directory without model files is no model");
        let message = err.to_string();
        assert!(message.contains("lstm-fin") && message.contains("SALIENT_MODELS"), "{message}");
    }

    #[test]
    fn empty_or_relative_variables_are_ignored() {
        let empty = Path::new("");
        let relative = Path::new("share");
        let home = Path::new("/home/u");
        let search = SearchPath::from_vars(
            Kind::Data,
            vars(&[("SALIENT_DATA", empty), ("XDG_DATA_HOME", relative), ("HOME", home)]),
        );
        let dirs: Vec<&Path> = search.places().iter().map(|p| p.dir.as_path()).collect();
        assert_eq!(
            dirs,
            [Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data")), Path::new("/home/u/.local/share/salient/data")]
        );
        let names: Vec<String> = search.entries().into_iter().map(|e| e.name).collect();
        assert!(names.contains(&"sst".into()) && names.contains(&"autoencoder".into()), "{names:?}");
        assert!(!names.contains(&"models".into()) && !names.contains(&"fonts".into()), "{names:?}");
    }
}
