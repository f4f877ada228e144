//! The library's error type: every failure names what went wrong, where, and what to do next.

use std::path::PathBuf;

/// Everything that can go wrong in salient.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SST data could not be read or parsed.
    #[error(transparent)]
    Sst(#[from] SstError),
    /// A labelled-text data file (tsv, csv, jsonl) could not be read or used.
    #[error(transparent)]
    Labelled(#[from] LabelledError),
    /// A file of pretrained word vectors could not be read or parsed.
    #[error(transparent)]
    Vectors(#[from] VectorsError),
    /// A line of a sentence corpus cannot be used.
    #[error("{path}:{line}: {message}")]
    Corpus {
        /// The corpus file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A data directory has no file for a corpus split.
    #[error(
        "no {split} split in {}: expected {} or {} (one sentence per line)",
        dir.display(),
        tried[0].display(),
        tried[1].display()
    )]
    MissingSplit {
        /// The data directory.
        dir: PathBuf,
        /// The split's name.
        split: &'static str,
        /// The paths tried, `.txt.gz` first.
        tried: [PathBuf; 2],
    },
    /// A data directory has two files for one corpus split.
    #[error(
        "both {} and {} exist; remove or rename one so that the {split} split is unambiguous",
        paths[0].display(),
        paths[1].display()
    )]
    AmbiguousSplit {
        /// The split's name.
        split: &'static str,
        /// The two files, `.txt.gz` first.
        paths: [PathBuf; 2],
    },
    /// A corpus split's file holds no sentence.
    #[error("{}: no sentences; the {split} split needs at least one (one sentence per line)", path.display())]
    EmptySplit {
        /// The file.
        path: PathBuf,
        /// The split's name.
        split: &'static str,
    },
    /// No sentence of a corpus file can be used: each is too long or has no token.
    #[error(
        "{}: no usable sentence: {too_long} of its {sentences} sentences are longer than {max_len} tokens, \
         the others have no token",
        path.display()
    )]
    NoUsableSentence {
        /// The file.
        path: PathBuf,
        /// Sentences in the file.
        sentences: usize,
        /// Those longer than the limit.
        too_long: usize,
        /// The limit, in tokens.
        max_len: usize,
    },
    /// A classifier was to be scored on trees none of whose sentences the task labels; the
    /// accuracy would be a ratio of nothing.
    #[error(
        "nothing to score: none of the {trees} sentences given has a {task} label (the binary task drops \
         neutral ones)"
    )]
    NoSentenceToScore {
        /// Trees given.
        trees: usize,
        /// The task (`fine`, `binary`).
        task: &'static str,
    },
    /// An autoencoder was to be scored on no sentence; every score would be a ratio of nothing.
    #[error("nothing to score: no sentence within the length limit of {max_len} tokens ({too_long} longer left out)")]
    NoSentenceToReconstruct {
        /// Sentences left out for being too long.
        too_long: usize,
        /// The model's length limit.
        max_len: usize,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint directory is missing a file, is corrupt, or does not match its config.
    #[error("checkpoint {dir}: {message}")]
    Checkpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file's SHA-256 is not the one recorded for it: a flipped byte, a truncated or
    /// interrupted write, or a file from another model.
    #[error("{file} is corrupt or does not belong here: its SHA-256 is {found}, but {recorded_in} records {expected}")]
    ChecksumMismatch {
        /// The file whose content does not match.
        file: PathBuf,
        /// The file that records the expected checksum.
        recorded_in: PathBuf,
        /// The recorded SHA-256, hex.
        expected: String,
        /// The SHA-256 of the file as read, hex.
        found: String,
    },
    /// Training diverged: a loss or a weight became NaN or infinite. Nothing of that epoch was
    /// saved.
    #[error(
        "training diverged in epoch {epoch}: {quantity} is {value}; nothing of this epoch was saved, {}",
        kept_note(*.last_good_epoch)
    )]
    Diverged {
        /// The 1-based epoch in which it happened.
        epoch: usize,
        /// What is not finite (the training loss of a batch, a named weight or optimizer entry).
        quantity: String,
        /// Its value (NaN or infinite).
        value: f32,
        /// The epoch of the last good checkpoint, which is kept (0 when no epoch completed).
        last_good_epoch: usize,
    },
    /// The tokenizer could not be built, saved or loaded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A PyTorch state dict cannot be made into a salient model (boxed: its facts are many).
    #[error(transparent)]
    Import(Box<ImportError>),
    /// A request asks for more work than [`crate::limits::Limits`] allows.
    #[error("{option} = {value} is above the limit of {limit} ({why})")]
    OverLimit {
        /// The limited option, as the library's options spell it (`beam`, `steps`).
        option: &'static str,
        /// The value asked for.
        value: usize,
        /// The limit.
        limit: usize,
        /// What grows with it.
        why: &'static str,
    },
    /// An option has a value salient cannot use.
    #[error("invalid {name}: {message}")]
    InvalidArgument {
        /// The option's name as the library's option types and export specs spell it
        /// (`perplexity`, `learning_rate`); the command line's flag is the same name in
        /// kebab case (`--learning-rate`).
        name: &'static str,
        /// What was expected.
        message: String,
    },
    /// An attribution method name that salient does not know.
    #[error("unknown attribution method `{name}`; known methods: {known}")]
    UnknownMethod {
        /// The name as given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A sentence that cannot be explained (empty, only unknown words, too long).
    #[error("{0}")]
    Sentence(#[from] SentenceError),
    /// An output file exists and overwriting was not asked for.
    #[error("{} already exists", path.display())]
    Exists {
        /// The file that would be overwritten.
        path: PathBuf,
    },
    /// A run was resumed in a directory that holds another run's files.
    #[error("{} holds the files of another run (other options, formats or spec); only the same run can be resumed", dir.display())]
    OtherRun {
        /// The output directory.
        dir: PathBuf,
    },
    /// An export spec cannot be used.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Nothing was given to work on.
    #[error("no {what} given")]
    NoInput {
        /// What is missing ("sentences").
        what: &'static str,
    },
    /// Every input was bad.
    #[error("nothing in {input} can be used: {}", reasons.join("; "))]
    NothingUsable {
        /// The file, or "the texts given".
        input: String,
        /// Why each input was refused.
        reasons: Vec<String>,
    },
    /// A projection was given no phrase source, or more than one.
    #[error("give exactly one source of phrases: a phrase file, a sample of an SST split, or a preset")]
    PhraseSource,
    /// A preset name that salient does not ship.
    #[error("no preset `{name}`; known: {known}")]
    UnknownPreset {
        /// The name as given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A new training run was asked for in a directory that holds one.
    #[error("{} already holds a training run ({} exists)", dir.display(), found.display())]
    RunExists {
        /// The run directory.
        dir: PathBuf,
        /// What shows that a run is there.
        found: PathBuf,
    },
    /// A run was resumed with options other than those it was started with.
    #[error("the run in {} was started with other options: {started}; only the number of epochs and the patience may change", dir.display())]
    ResumeOptions {
        /// The run directory.
        dir: PathBuf,
        /// The options the run was started with, as JSON.
        started: String,
    },
    /// A model or data set named by a name that none of the directories searched holds.
    #[error(
        "no {what} `{name}`: it is not a path that exists, and no directory of that name is in {}; {what}s there: {}",
        searched.join(", "),
        if available.is_empty() { "none".to_string() } else { available.join(", ") }
    )]
    UnknownName {
        /// `model` or `data set`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The environment variable that adds a directory to search.
        variable: &'static str,
        /// The directories searched, in order, each with where it comes from.
        searched: Vec<String>,
        /// The names those directories hold.
        available: Vec<String>,
    },
    /// A directory that is not a model directory.
    #[error("{} is not a directory; a model directory is made by salient's training", dir.display())]
    NoModel {
        /// The path given.
        dir: PathBuf,
    },
    /// Work stopped, and some inputs had already been left out.
    #[error("{error}; {} input(s) had been left out: {}", failures.len(), failures.join("; "))]
    WithFailures {
        /// Why the work stopped.
        error: Box<Error>,
        /// Why each input left out before was.
        failures: Vec<String>,
    },
    /// Results could not be encoded (as CSV, JSON, PNG or PDF).
    #[error("cannot write {format}: {message}")]
    Encode {
        /// `CSV`, `JSON`, `SVG` (read back for conversion), `PNG` or `PDF`.
        format: &'static str,
        /// What the encoder said.
        message: String,
    },
    /// The output directory cannot be used.
    #[error("cannot write into {}: {message}", dir.display())]
    OutputDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        message: String,
    },
    /// A figure's notebook, read back to join it into an export's notebook, is not one salient
    /// wrote.
    #[error("{}: {message}", path.display())]
    Notebook {
        /// The notebook.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The font family asked for (`--font-family`) cannot be found for PNG or PDF.
    #[error("font family `{family}`: {message}")]
    Font {
        /// The family list as given.
        family: String,
        /// Why not, and what to do.
        message: String,
    },
    /// A figure could not be drawn.
    #[error("cannot draw {what}: {message}")]
    Render {
        /// The figure.
        what: String,
        /// The drawing backend's complaint.
        message: String,
    },
    /// A tensor operation failed (a bug, a shape mismatch, or an unavailable device).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// A shard of a run (`I/N`) is malformed, or shard directories cannot be merged.
    #[error(transparent)]
    Shard(#[from] ShardError),
}

/// A shard given wrongly, or shard directories that do not make one run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// Not `I/N` with whole numbers.
    #[error("shard `{value}` is not I/N (the shard's index and the number of shards, e.g. 0/4; indices start at 0)")]
    Syntax {
        /// What was given.
        value: String,
    },
    /// `N` is 0.
    #[error("shard `{value}`: the number of shards must be at least 1")]
    NoShards {
        /// What was given.
        value: String,
    },
    /// `I >= N`.
    #[error("shard `{index}/{count}`: indices start at 0, so the shards of {count} are 0/{count} to {last}/{count}", last = count.saturating_sub(1))]
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The number of shards.
        count: usize,
    },
    /// A directory that holds no sharded run.
    #[error("{} holds no shard of a run: it has no record of a run made with a shard (.salient.jsonl), or the run was not sharded", dir.display())]
    NotAShard {
        /// The directory.
        dir: PathBuf,
    },
    /// A shard whose run did not finish.
    #[error("{} holds an unfinished shard (its record has no last line: the run was stopped or killed)", dir.display())]
    Incomplete {
        /// The directory.
        dir: PathBuf,
    },
    /// A file of a shard that changed after it was written.
    #[error("{}: the file {file} is not what the shard's run wrote (changed or removed since)", dir.display())]
    Changed {
        /// The directory.
        dir: PathBuf,
        /// The file.
        file: String,
    },
    /// Two shards of different runs.
    #[error("{} and {} are shards of different runs: {what}", dir.display(), reference.display())]
    Mismatch {
        /// The shard that differs.
        dir: PathBuf,
        /// The shard it was compared with.
        reference: PathBuf,
        /// What differs (the figure kind, the number of shards, the model's weights, the input,
        /// the options or formats).
        what: String,
    },
    /// One shard given twice.
    #[error("shard {index} is given twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// The shard's index.
        index: usize,
        /// One directory.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Shards not given.
    #[error("shard(s) {} missing", missing.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", "))]
    Missing {
        /// Their indices.
        missing: Vec<usize>,
        /// The number of shards.
        count: usize,
    },
    /// A shard's results file cannot be read back.
    #[error("{}: cannot read the shard's results: {message}", path.display())]
    Results {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn kept_note(last_good_epoch: usize) -> String {
    match last_good_epoch {
        0 => "and no earlier epoch had completed; try a smaller learning rate".into(),
        e => format!("the checkpoint of epoch {e} and the selected model are kept; try a smaller learning rate"),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with the path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// A checkpoint error.
    pub fn checkpoint(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint { dir: dir.into(), message: message.into() }
    }

    /// An invalid-argument error.
    pub fn invalid(name: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument { name, message: message.into() }
    }
}

/// Errors reading labelled text (`.tsv`, `.csv`, `.jsonl`, optionally `.gz`) from a data
/// directory, or matching it to a classifier. Each names the file, and the 1-based line where
/// a row is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelledError {
    /// A file could not be read or decompressed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A tsv or csv record is malformed (a wrong number of fields, bad quoting, invalid UTF-8).
    #[error("{}:{line}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line where the record starts (the csv reader's position).
        line: u64,
        /// The csv reader's description.
        message: String,
    },
    /// A jsonl line is not a JSON object.
    #[error("{}:{line}:{column}: not a JSON object: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column (0 where it does not apply).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The header row of a tsv or csv file has no column of the name asked for.
    #[error("{}:1: the header has no `{field}` column for the {role} (its columns: {})", path.display(), found.join(", "))]
    NoColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        field: String,
        /// `text` or `label`.
        role: &'static str,
        /// The header's columns.
        found: Vec<String>,
    },
    /// A jsonl object lacks a field.
    #[error("{}:{line}: no `{field}` field (the {role}); the object has: {}", path.display(), found.join(", "))]
    MissingField {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The field asked for.
        field: String,
        /// `text` or `label`.
        role: &'static str,
        /// The object's fields.
        found: Vec<String>,
    },
    /// A jsonl field holds the wrong kind of value.
    #[error("{}:{line}: the `{field}` field must be {expected}, found {found}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The field.
        field: String,
        /// What it must hold.
        expected: &'static str,
        /// The value found.
        found: String,
    },
    /// The text or the label of a row is empty (for the text: no token after splitting).
    #[error("{}:{line}: the {role} (`{field}`) is empty", path.display())]
    EmptyField {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The field.
        field: String,
        /// `text` or `label`.
        role: &'static str,
    },
    /// A label is neither a class name nor a class index.
    #[error(
        "{}:{line}: unknown label `{label}`; the classes are {} (a label is a class name or an index 0..{})",
        path.display(), classes.join(", "), classes.len().saturating_sub(1)
    )]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The label as written.
        label: String,
        /// The classes, in index order.
        classes: Vec<String>,
    },
    /// A text has more tokens than the limit.
    #[error("{}:{line}: the text has {tokens} tokens, above the limit of {limit}", path.display())]
    TooLong {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Tokens of the text.
        tokens: usize,
        /// The limit.
        limit: usize,
    },
    /// The labels of a training file do not make a set of classes (fewer than two, too many).
    #[error("{}: {message}", path.display())]
    Classes {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file holds no example.
    #[error("{}: no examples; the {split} split needs at least one", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// The split it was read as.
        split: String,
    },
    /// More than one file could be the split.
    #[error(
        "more than one file for the {split} split: {}; keep one of them in the directory (move the others \
         elsewhere)",
        found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        /// The split (`train`, `dev`, `test`).
        split: String,
        /// The files found.
        found: Vec<PathBuf>,
    },
    /// The data and the classifier's classes are of different kinds (SST trees against a model
    /// of labelled text, or the other way round), or an SST task was missing or misplaced.
    #[error("{}: {message}", path.display())]
    Mismatch {
        /// The data file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

/// Errors reading or parsing SST files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SstError {
    /// A file could not be read or decompressed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Neither `<split>.txt.gz` nor `<split>.txt` exists in the data directory.
    #[error(
        "no {split} split in {}: tried {}; give a directory holding the SST files \
         (train/dev/test .txt.gz or .txt) or labelled text (.tsv, .csv or .jsonl, optionally .gz)",
        dir.display(),
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
    )]
    Missing {
        /// The data directory searched.
        dir: PathBuf,
        /// The split asked for (`train`, `dev`, `test`).
        split: String,
        /// The paths tried, in order.
        tried: Vec<PathBuf>,
    },
    /// A line is not a well-formed tree.
    #[error("{}:{line}:{column}: expected {expected}, found {found}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column, counted in characters, of the first character
        /// that does not fit the grammar (one past the end for a line that
        /// ends too early).
        column: usize,
        /// What the grammar allows at that point.
        expected: String,
        /// What is there instead.
        found: String,
    },
    /// A tree has more tokens than the limit (phrase-level work is quadratic in its size).
    #[error(
        "{}:{line}: the tree has {tokens} tokens, above the limit of {limit} (every phrase of a tree \
         is scored, so the work grows with the square of its size)",
        path.display()
    )]
    TreeTooLarge {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Tokens of the tree.
        tokens: usize,
        /// The limit.
        limit: usize,
    },
    /// Both `<split>.txt.gz` and `<split>.txt` exist, so which one is meant is unclear.
    #[error(
        "both {} and {} exist; remove or rename one so that the {split} split is unambiguous",
        paths[0].display(),
        paths[1].display()
    )]
    Ambiguous {
        /// The split asked for (`train`, `dev`, `test`).
        split: String,
        /// The two files, `.txt.gz` first.
        paths: [PathBuf; 2],
    },
    /// A split's file holds no tree.
    #[error("{}: no trees; the {split} split needs at least one (one tree per line)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// The split it was read as.
        split: String,
    },
    /// A split holds trees, but none whose sentence the task can score (the binary task drops
    /// neutral sentences).
    #[error(
        "{}: none of its {trees} sentences has a {task} label (the binary task drops neutral ones); \
         the {split} split needs at least one",
        path.display()
    )]
    NoUsableSentence {
        /// The file.
        path: PathBuf,
        /// The split it was read as.
        split: String,
        /// The task (`fine`, `binary`).
        task: String,
        /// How many trees the file holds.
        trees: usize,
    },
    /// A line is not valid UTF-8.
    #[error("{}:{line}:{column}: invalid UTF-8 (column counted in bytes)", path.display())]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based byte column of the first byte that is not valid UTF-8.
        column: usize,
    },
}

/// Errors reading a file of pretrained word vectors (GloVe or word2vec text format): each
/// names the file and, where there is one, the line and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorsError {
    /// The file could not be read or decompressed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file holds no vector.
    #[error(
        "{}: no word vectors; expected one `word v1 v2 ... vd` a line (GloVe), after a `count dim` line for \
         word2vec's text format",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A line has a word and no values.
    #[error("{}:{line}: `{word}` has no values; expected `word v1 v2 ... vd`", path.display())]
    NoValues {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The word.
        word: String,
    },
    /// A line has another number of values than the file's vectors.
    #[error("{}:{line}: the vector of `{word}` has {found} values, expected {expected} as {from}", path.display())]
    ValueCount {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line's word.
        word: String,
        /// Values on the line.
        found: usize,
        /// Values of the file's vectors.
        expected: usize,
        /// What set the file's dimension.
        from: DimFrom,
    },
    /// A value is not a finite number.
    #[error("{}:{line}: value {index} of `{word}` is `{found}`, not a finite number", path.display())]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line's word.
        word: String,
        /// 1-based position of the value after the word.
        index: usize,
        /// The value as written.
        found: String,
    },
    /// The word2vec header is wrong (a dimension of 0, another count of vectors than the file
    /// holds).
    #[error("{}:{line}: {message}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the header.
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// The file's vectors do not have the model's embedding size.
    #[error(
        "{}:{line}: the vectors have {file_dim} values, but the model's embeddings have {model_dim}; give the \
         model an embedding size of {file_dim}",
        path.display()
    )]
    ModelDim {
        /// The file.
        path: PathBuf,
        /// The line that sets the file's dimension (the header, or the first vector).
        line: usize,
        /// Values per vector in the file.
        file_dim: usize,
        /// The model's embedding size.
        model_dim: usize,
    },
}

/// What set the dimension of a vector file's vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimFrom {
    /// The word2vec header, on this 1-based line.
    Header(usize),
    /// The first vector, on this 1-based line.
    FirstVector(usize),
}

impl std::fmt::Display for DimFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DimFrom::Header(line) => write!(f, "the word2vec header (line {line}) says"),
            DimFrom::FirstVector(line) => write!(f, "the first vector (line {line}) has"),
        }
    }
}

/// Why a sentence cannot be explained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SentenceError {
    /// Nothing but whitespace.
    #[error("{at}: the sentence is empty; give at least one word")]
    Empty {
        /// Where it came from ("line 3", "text 1").
        at: String,
    },
    /// Every token is outside the vocabulary, so the model would see only `[UNK]`.
    #[error(
        "{at}: every word is unknown to the model's vocabulary ({}); it would see only [UNK], so there is nothing to explain. Use words from its training data",
        .words.join(" ")
    )]
    AllUnknown {
        /// Where it came from.
        at: String,
        /// The words.
        words: Vec<String>,
    },
    /// A line of an input file that is not UTF-8 text.
    #[error("{at}: not UTF-8 text (byte {column} of the line); save the file as UTF-8")]
    NotUtf8 {
        /// Where it came from ("line 3").
        at: String,
        /// The 1-based byte column of the first byte that is not UTF-8.
        column: usize,
    },
    /// More tokens than the limit.
    #[error("{at}: {tokens} tokens, more than the limit of {max}; split the sentence or raise the limit of tokens per sentence")]
    TooLong {
        /// Where it came from.
        at: String,
        /// Its length in tokens.
        tokens: usize,
        /// The limit.
        max: usize,
    },
}

impl SentenceError {
    /// Where the sentence came from ("line 3", "text 1").
    pub fn at(&self) -> &str {
        match self {
            SentenceError::Empty { at }
            | SentenceError::AllUnknown { at, .. }
            | SentenceError::NotUtf8 { at, .. }
            | SentenceError::TooLong { at, .. } => at,
        }
    }
}

/// What is wrong with an export spec: the file, the figure and the option, as the spec names
/// them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}: {}{}{message}",
    figure.as_ref().map(|f| format!("figure `{f}`: ")).unwrap_or_default(),
    field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default()
)]
pub struct SpecError {
    /// The spec file.
    pub file: String,
    /// The figure's name, when the error is in one.
    pub figure: Option<String>,
    /// The option (or table) at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Why a PyTorch state dict (a safetensors file) cannot be imported as a salient classifier.
/// Each names the file and, where one is to blame, the tensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is not safetensors (or is truncated).
    #[error("{}: not a readable safetensors file ({message}); save the state dict with safetensors.torch.save_file", file.display())]
    Unreadable {
        /// The state dict's file.
        file: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A tensor the architecture needs is not in the file.
    #[error("{}: tensor `{tensor}` is missing; {model} needs it, shaped {expected}", file.display())]
    Missing {
        /// The state dict's file.
        file: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The model expected (architecture and sizes).
        model: String,
        /// The shape it needs.
        expected: String,
    },
    /// A tensor has the wrong shape for the architecture.
    #[error("{}: tensor `{tensor}` has shape {found:?}; {model} needs {expected}", file.display())]
    Shape {
        /// The state dict's file.
        file: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The model expected (architecture and sizes).
        model: String,
        /// The shape it needs.
        expected: String,
        /// Its shape in the file.
        found: Vec<usize>,
    },
    /// A tensor the architecture does not have.
    #[error("{}: tensor `{tensor}` is not part of {model}{}; it has exactly {expected}", file.display(), reverse_note(tensor))]
    Extra {
        /// The state dict's file.
        file: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The model expected (architecture and sizes).
        model: String,
        /// The names it has, comma-separated.
        expected: String,
    },
    /// A tensor holds integers or booleans.
    #[error("{}: tensor `{tensor}` holds {dtype}, not floating-point weights", file.display())]
    NotFloat {
        /// The state dict's file.
        file: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its type.
        dtype: String,
    },
    /// The output layer has a number of classes no salient task has.
    #[error(
        "{}: `classifier.bias` has {found} classes; salient's classifiers have 5 (SST fine-grained) or 2 (SST binary)",
        file.display()
    )]
    Classes {
        /// The state dict's file.
        file: PathBuf,
        /// Its number of classes.
        found: usize,
    },
    /// The vocabulary and the embedding table disagree in size.
    #[error(
        "{} has {entries} entries but `embedding.weight` in {} has {rows} rows: give the tokenizer the model was \
         trained with (its ids are the table's rows)",
        tokenizer.display(),
        file.display()
    )]
    Vocabulary {
        /// The tokenizer's file.
        tokenizer: PathBuf,
        /// The state dict's file.
        file: PathBuf,
        /// Entries of the vocabulary.
        entries: usize,
        /// Rows of the embedding table.
        rows: usize,
    },
}

impl From<ImportError> for Error {
    fn from(e: ImportError) -> Self {
        Error::Import(Box::new(e))
    }
}

fn reverse_note(tensor: &str) -> &'static str {
    if tensor.ends_with("_reverse") {
        " (its encoder reads one way; was the PyTorch model bidirectional?)"
    } else {
        ""
    }
}
