//! The Stanford Sentiment Treebank (SST) in its PTB tree format.
//!
//! Each line of an SST file is one binarized parse tree with a sentiment
//! label 0-4 on every node, for example
//!
//! ```text
//! (2 (3 (3 Effective) (2 but)) (1 (1 too-tepid) (2 biopic)))
//! ```
//!
//! [`parse_tree`] turns one such line into a [`Tree`]: the sentence tokens and
//! one [`LabelledSpan`] per node (leaves included) in post-order, so the root
//! span comes last. [`read_trees`] reads a whole file (plain text, or gzip if
//! the name ends in `.gz`) and [`load_split`] finds `<dir>/<split>.txt.gz` or
//! `<dir>/<split>.txt` (exactly one of them: both is an error, as is a split
//! without trees); [`load_split_for`] also asks for a sentence the task can
//! score. Each takes the most tokens a tree may have (phrase-level work is quadratic in a
//! tree's size; [`crate::limits::Limits::DEFAULT`] allows 1,000, SST's longest has 56).
//! [`Task`] maps the five fine-grained labels to the binary task
//! (neutral sentences dropped).
//!
//! # Grammar
//!
//! ```text
//! line  := tree [CR]                 // nothing else before or after the tree
//! tree  := "(" LABEL " " body ")"
//! body  := TOKEN                     // a leaf: exactly one token
//!        | tree " " tree             // an internal node: exactly two children
//! LABEL := "0" | "1" | "2" | "3" | "4"
//! TOKEN := one or more characters other than space (U+0020), "(", ")"
//!          and ASCII control characters (U+0000-U+001F, U+007F)
//! ```
//!
//! * Separators are exactly one ASCII space (0x20). No other character
//!   separates tokens: U+00A0 (no-break space) and every other non-ASCII
//!   character are ordinary token characters, so `8\u{a0}1\/2` is one token.
//! * Tokens are kept verbatim (still PTB-escaped: `-LRB-`, `\/`, ...).
//! * Lines are read as [`text::lines`](super::text) reads them: split at `\n`;
//!   a single `\r` at the very end of a line is ignored, so CRLF files are
//!   accepted; a `\r` anywhere else is an error (it is a control character).
//!   A UTF-8 byte-order mark at the start of the file is skipped.
//! * An empty final piece after the last `\n` is not a line; any other empty
//!   line is an error. An empty file holds zero trees (and is not a split).
//! * The parser uses an explicit stack, never recursion, so deeply nested
//!   hostile input cannot overflow the call stack.
//!
//! Every error names the file, the 1-based line and the 1-based column: in
//! characters for [`SstError::Syntax`], in bytes for [`SstError::Utf8`] (the
//! line is not valid text there, so characters cannot be counted).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use crate::error::SstError;

/// Which SST file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// `train.txt`: 8544 sentences.
    Train,
    /// `dev.txt`: 1101 sentences.
    Dev,
    /// `test.txt`: 2210 sentences.
    Test,
}

impl Split {
    /// All three splits, in the order train, dev, test.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    /// The split's name and file stem: `"train"`, `"dev"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl FromStr for Split {
    type Err = String;

    /// Parses `train`, `dev` or `test` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Split::ALL
            .into_iter()
            .find(|split| s.eq_ignore_ascii_case(split.name()))
            .ok_or_else(|| format!("unknown split `{s}`: expected one of train, dev, test"))
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Label granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Five classes, the SST labels 0-4 unchanged (SST-5).
    Fine,
    /// Two classes: 0-1 negative, 3-4 positive, neutral 2 dropped (SST-2).
    Binary,
}

impl Task {
    /// Both tasks, in the order fine, binary.
    pub const ALL: [Task; 2] = [Task::Fine, Task::Binary];

    /// Number of classes: 5 for [`Task::Fine`], 2 for [`Task::Binary`].
    pub fn num_classes(self) -> usize {
        self.class_names().len()
    }

    /// Maps an SST label (0-4) to this task's class index.
    ///
    /// `Fine` returns the label unchanged; `Binary` maps 0 and 1 to `Some(0)`,
    /// 3 and 4 to `Some(1)` and the neutral 2 to `None` (the example is
    /// dropped). A label above 4 is not an SST label and gives `None` for
    /// both tasks.
    ///
    /// ```
    /// use salient::data::Task;
    /// assert_eq!(Task::Fine.map_label(2), Some(2));
    /// assert_eq!(Task::Binary.map_label(1), Some(0));
    /// assert_eq!(Task::Binary.map_label(2), None);
    /// assert_eq!(Task::Binary.map_label(4), Some(1));
    /// ```
    pub fn map_label(self, label: u8) -> Option<u8> {
        match (self, label) {
            (_, 5..) => None,
            (Task::Fine, l) => Some(l),
            (Task::Binary, 0 | 1) => Some(0),
            (Task::Binary, 2) => None,
            (Task::Binary, _) => Some(1),
        }
    }

    /// Human-readable class names, indexed by class.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            Task::Fine => &["very negative", "negative", "neutral", "positive", "very positive"],
            Task::Binary => &["negative", "positive"],
        }
    }

    /// The task's name: `"fine"` or `"binary"`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Fine => "fine",
            Task::Binary => "binary",
        }
    }
}

impl FromStr for Task {
    type Err = String;

    /// Parses `fine` or `binary` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|task| s.eq_ignore_ascii_case(task.name()))
            .ok_or_else(|| format!("unknown task `{s}`: expected one of fine, binary"))
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One labelled node of a tree: tokens[start..end] with a 0-4 label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelledSpan {
    /// Index of the first token covered by the node.
    pub start: usize,
    /// One past the index of the last token covered by the node.
    pub end: usize,
    /// The node's sentiment label, 0 (very negative) to 4 (very positive).
    pub label: u8,
}

/// One parsed line: the sentence tokens and every labelled node (leaves included).
///
/// `spans` are in post-order (children before their parent), so leaves
/// appear in token order among them and the root span `0..tokens.len()`
/// is the last one. A tree of `n` tokens has `2n - 1` spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// The sentence's tokens, verbatim (PTB-escaped) from the file.
    pub tokens: Vec<String>,
    /// Every node of the tree, leaves included, in post-order.
    pub spans: Vec<LabelledSpan>,
}

impl Tree {
    /// The sentence label: the label of the span `0..tokens.len()`.
    ///
    /// # Panics
    ///
    /// If no span covers the whole sentence, which cannot happen for a tree
    /// from [`parse_tree`].
    pub fn root_label(&self) -> u8 {
        let n = self.tokens.len();
        self.spans
            .iter()
            .rev()
            .find(|s| s.start == 0 && s.end == n)
            .map(|s| s.label)
            .expect("tree has no span covering the whole sentence")
    }

    /// The tokens a span covers, `tokens[span.start..span.end]`.
    ///
    /// # Panics
    ///
    /// If the span lies outside this tree's tokens.
    pub fn phrase_tokens(&self, span: &LabelledSpan) -> &[String] {
        &self.tokens[span.start..span.end]
    }
}

/// One open node on the parser's stack.
struct Frame {
    label: u8,
    /// Index of the first token under this node.
    start: usize,
    /// Children completed so far (internal nodes only).
    children: u8,
}

/// Describes what is at byte `pos` of `text`, for an error's `found`.
fn describe(text: &str, pos: usize) -> String {
    match text[pos..].chars().next() {
        None => "end of line".to_string(),
        Some(' ') => "a space".to_string(),
        Some('\t') => "a tab (U+0009)".to_string(),
        Some('\r') => "a carriage return (U+000D)".to_string(),
        Some('\n') => "a line feed (U+000A)".to_string(),
        Some(c) if c.is_control() => format!("control character U+{:04X}", c as u32),
        Some(c) if c.is_ascii() => format!("`{c}`"),
        Some(c) => format!("`{c}` (U+{:04X})", c as u32),
    }
}

/// True for bytes that may appear in a token. Bytes of multi-byte UTF-8
/// characters (>= 0x80) are all allowed.
#[inline]
fn is_token_byte(b: u8) -> bool {
    !matches!(b, b' ' | b'(' | b')' | 0x00..=0x1f | 0x7f)
}

/// Parse one tree line. `file` and `line` (1-based) are only used in errors.
///
/// `text` is the line without its `\n`; a single trailing `\r` is ignored.
/// See the [module documentation](self) for the grammar. Errors are
/// [`SstError::Syntax`] with a 1-based character column.
pub fn parse_tree(text: &str, file: &Path, line: usize) -> Result<Tree, SstError> {
    let text = text.strip_suffix('\r').unwrap_or(text);
    let bytes = text.as_bytes();
    let err = |pos: usize, expected: &str| SstError::Syntax {
        path: file.to_path_buf(),
        line,
        column: text[..pos].chars().count() + 1,
        expected: expected.to_string(),
        found: describe(text, pos),
    };

    // Every node starts with '(', so this sizes `spans` exactly for a valid line.
    let nodes = bytes.iter().filter(|&&b| b == b'(').count();
    let mut tokens: Vec<String> = Vec::with_capacity(nodes / 2 + 1);
    let mut spans: Vec<LabelledSpan> = Vec::with_capacity(nodes);
    let mut stack: Vec<Frame> = Vec::new();
    let mut pos = 0;

    if bytes.first() != Some(&b'(') {
        let expected =
            if bytes.is_empty() { "`(` starting a tree (empty lines are not allowed)" } else { "`(` starting a tree" };
        return Err(err(pos, expected));
    }

    // Invariant at the top of the loop: bytes[pos] == b'(' opens a node.
    loop {
        pos += 1;
        let label = match bytes.get(pos) {
            Some(&b) if (b'0'..=b'4').contains(&b) => b - b'0',
            _ => return Err(err(pos, "a label digit 0-4")),
        };
        pos += 1;
        if bytes.get(pos) != Some(&b' ') {
            let expected = if bytes.get(pos).is_some_and(u8::is_ascii_digit) {
                "a space after the label (labels are a single digit 0-4)"
            } else {
                "a space after the label"
            };
            return Err(err(pos, expected));
        }
        pos += 1;
        let start = tokens.len();

        match bytes.get(pos) {
            Some(b'(') => {
                // First child of an internal node.
                stack.push(Frame { label, start, children: 0 });
                continue;
            }
            Some(&b) if is_token_byte(b) => {
                let token_start = pos;
                while bytes.get(pos).is_some_and(|&b| is_token_byte(b)) {
                    pos += 1;
                }
                match bytes.get(pos) {
                    Some(b')') => {}
                    Some(b' ') => return Err(err(pos, "`)` closing the leaf (a leaf holds exactly one token)")),
                    Some(b'(') => return Err(err(pos, "`)` closing the leaf (`(` cannot appear inside a token)")),
                    Some(_) => {
                        return Err(err(pos, "`)` or a token character (tokens cannot hold control characters)"))
                    }
                    None => return Err(err(pos, "`)` closing the leaf")),
                }
                // Delimiters are ASCII, so these are char boundaries.
                tokens.push(text[token_start..pos].to_string());
                spans.push(LabelledSpan { start, end: start + 1, label });
                pos += 1;
            }
            _ => return Err(err(pos, "a token or `(` starting a subtree (a node needs a token or two subtrees)")),
        }

        // A node just closed (bytes[pos - 1] == b')'); close as many parents as are complete.
        loop {
            let Some(parent) = stack.last_mut() else {
                // The root closed: nothing may follow it.
                if pos < bytes.len() {
                    return Err(err(pos, "end of line after the complete tree (unbalanced `)` or trailing text)"));
                }
                return Ok(Tree { tokens, spans });
            };
            parent.children += 1;
            if parent.children == 1 {
                if bytes.get(pos) != Some(&b' ') {
                    let expected = if bytes.get(pos) == Some(&b')') {
                        "a space and a second subtree (an internal node has exactly two children)"
                    } else {
                        "a space before the second subtree"
                    };
                    return Err(err(pos, expected));
                }
                pos += 1;
                if bytes.get(pos) != Some(&b'(') {
                    return Err(err(
                        pos,
                        "`(` starting the second subtree (an internal node has two subtrees, not a token)",
                    ));
                }
                break; // open the second child
            }
            // Second child done: the parent must close here.
            if bytes.get(pos) != Some(&b')') {
                let expected = match bytes.get(pos) {
                    Some(b' ') => "`)` closing the node (a node has at most two children)",
                    None => "`)` closing the node (unbalanced brackets)",
                    _ => "`)` closing the node",
                };
                return Err(err(pos, expected));
            }
            pos += 1;
            let frame = stack.pop().expect("stack is not empty");
            spans.push(LabelledSpan { start: frame.start, end: tokens.len(), label: frame.label });
        }
    }
}

/// Parse every line of a file's contents; `path` names the file in errors.
///
/// Lines are read by [`text::lines`](super::text::lines): a byte-order mark at the start is
/// skipped and CRLF line ends are accepted. Contents without lines give zero trees. A tree of
/// more than `max_tokens` tokens is an [`SstError::TreeTooLarge`].
pub fn parse_trees(contents: &[u8], path: &Path, max_tokens: usize) -> Result<Vec<Tree>, SstError> {
    let mut trees = Vec::new();
    for line in super::text::lines(contents) {
        let text =
            line.text().map_err(|column| SstError::Utf8 { path: path.to_path_buf(), line: line.number, column })?;
        let tree = parse_tree(text, path, line.number)?;
        if tree.tokens.len() > max_tokens {
            return Err(SstError::TreeTooLarge {
                path: path.to_path_buf(),
                line: line.number,
                tokens: tree.tokens.len(),
                limit: max_tokens,
            });
        }
        trees.push(tree);
    }
    Ok(trees)
}

/// Read every tree of a file (plain or, if the name ends in .gz, gzip-compressed).
///
/// One tree per line; see the [module documentation](self) for the rules on
/// line endings and empty lines.
pub(crate) fn read_trees(path: &Path, max_tokens: usize) -> Result<Vec<Tree>, SstError> {
    let bytes = super::text::read_file(path).map_err(|source| SstError::Io { path: path.to_path_buf(), source })?;
    parse_trees(&bytes, path, max_tokens)
}

/// Load a split from a data directory: `<dir>/<split>.txt.gz` or `<dir>/<split>.txt`.
///
/// Errors: neither file ([`SstError::Missing`], naming both paths tried), both
/// ([`SstError::Ambiguous`]), a file without trees ([`SstError::Empty`]), and any read or parse
/// error of the file.
pub fn load_split(dir: &Path, split: Split, max_tokens: usize) -> Result<Vec<Tree>, SstError> {
    Ok(load_split_file(dir, split, max_tokens)?.1)
}

/// Like [`load_split`], and the split must hold at least one sentence that `task` scores
/// ([`SstError::NoUsableSentence`] otherwise: a binary split of neutral sentences only).
pub fn load_split_for(dir: &Path, split: Split, task: Task, max_tokens: usize) -> Result<Vec<Tree>, SstError> {
    let (path, trees) = load_split_file(dir, split, max_tokens)?;
    if !trees.iter().any(|t| task.map_label(t.root_label()).is_some()) {
        return Err(SstError::NoUsableSentence {
            path,
            split: split.name().to_string(),
            task: task.name().to_string(),
            trees: trees.len(),
        });
    }
    Ok(trees)
}

/// The split's file and its trees (at least one).
fn load_split_file(dir: &Path, split: Split, max_tokens: usize) -> Result<(PathBuf, Vec<Tree>), SstError> {
    use super::text::{find_split, SplitFile};
    let path = match find_split(dir, split.name()).map_err(|(path, source)| SstError::Io { path, source })? {
        SplitFile::Found(path) => path,
        SplitFile::Missing(tried) => {
            return Err(SstError::Missing {
                dir: dir.to_path_buf(),
                split: split.name().to_string(),
                tried: tried.into(),
            })
        }
        SplitFile::Both(paths) => return Err(SstError::Ambiguous { split: split.name().to_string(), paths }),
    };
    let trees = read_trees(&path, max_tokens)?;
    if trees.is_empty() {
        return Err(SstError::Empty { path, split: split.name().to_string() });
    }
    Ok((path, trees))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Tree, SstError> {
        parse_tree(text, Path::new("t.txt"), 7)
    }

    fn span(start: usize, end: usize, label: u8) -> LabelledSpan {
        LabelledSpan { start, end, label }
    }

    /// Parses `text`, expects a syntax error and returns (line, column, expected, found).
    fn syntax_err(text: &str) -> (usize, usize, String, String) {
        match parse(text) {
            Err(SstError::Syntax { path, line, column, expected, found }) => {
                assert_eq!(path, Path::new("t.txt"));
                (line, column, expected, found)
            }
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn single_leaf() {
        let t = parse("(3 good)").unwrap();
        assert_eq!(t.tokens, vec!["good"]);
        assert_eq!(t.spans, vec![span(0, 1, 3)]);
        assert_eq!(t.root_label(), 3);
    }

    #[test]
    fn readme_example_post_order() {
        let t = parse("(2 (3 (3 Effective) (2 but)) (1 (1 too-tepid) (2 biopic)))").unwrap();
        assert_eq!(t.tokens, vec!["Effective", "but", "too-tepid", "biopic"]);
        assert_eq!(
            t.spans,
            vec![
                span(0, 1, 3),
                span(1, 2, 2),
                span(0, 2, 3),
                span(2, 3, 1),
                span(3, 4, 2),
                span(2, 4, 1),
                span(0, 4, 2),
            ]
        );
        assert_eq!(t.root_label(), 2);
        assert_eq!(t.phrase_tokens(&t.spans[5]), ["too-tepid", "biopic"]);
        assert_eq!(t.phrase_tokens(&t.spans[6]).len(), 4);
        assert_eq!(t.spans.len(), 2 * t.tokens.len() - 1);
    }

    #[test]
    fn left_and_right_branching() {
        let t = parse("(4 (0 (1 a) (2 b)) (3 c))").unwrap();
        assert_eq!(t.tokens, vec!["a", "b", "c"]);
        assert_eq!(t.spans, vec![span(0, 1, 1), span(1, 2, 2), span(0, 2, 0), span(2, 3, 3), span(0, 3, 4)]);
        let t = parse("(4 (3 c) (0 (1 a) (2 b)))").unwrap();
        assert_eq!(t.tokens, vec!["c", "a", "b"]);
        assert_eq!(t.spans, vec![span(0, 1, 3), span(1, 2, 1), span(2, 3, 2), span(1, 3, 0), span(0, 3, 4)]);
    }

    #[test]
    fn ptb_escapes_and_non_ascii_tokens_verbatim() {
        let t = parse(r"(2 (2 -LRB-) (2 (2 \/) (2 (2 André) (2 ``))))").unwrap();
        assert_eq!(t.tokens, vec!["-LRB-", r"\/", "André", "``"]);
        assert_eq!(t.root_label(), 2);
    }

    #[test]
    fn nbsp_stays_inside_one_token() {
        let t = parse("(2 (2 8\u{a0}1\\/2) (3 hours))").unwrap();
        assert_eq!(t.tokens, vec!["8\u{a0}1\\/2", "hours"]);
        assert_eq!(t.spans, vec![span(0, 1, 2), span(1, 2, 3), span(0, 2, 2)]);
    }

    #[test]
    fn trailing_cr_is_ignored() {
        let t = parse("(1 (2 a) (1 b))\r").unwrap();
        assert_eq!(t.tokens, vec!["a", "b"]);
        assert_eq!(t.root_label(), 1);
    }

    #[test]
    fn empty_line() {
        let (line, col, expected, found) = syntax_err("");
        assert_eq!((line, col), (7, 1));
        assert!(expected.contains("empty lines"), "{expected}");
        assert_eq!(found, "end of line");
        // A lone CR is an empty CRLF line.
        assert_eq!(syntax_err("\r").1, 1);
    }

    #[test]
    fn leading_text() {
        let (_, col, _, found) = syntax_err(" (2 a)");
        assert_eq!((col, found.as_str()), (1, "a space"));
        let (_, col, _, found) = syntax_err("2 a)");
        assert_eq!((col, found.as_str()), (1, "`2`"));
    }

    #[test]
    fn missing_close_paren_at_end_of_line() {
        let (line, col, expected, found) = syntax_err("(2 (2 a) (2 b)");
        assert_eq!((line, col), (7, 15));
        assert!(expected.contains("unbalanced"), "{expected}");
        assert_eq!(found, "end of line");
        // Inside a leaf.
        let (_, col, expected, found) = syntax_err("(2 (2 a) (2 b");
        assert_eq!(col, 14);
        assert!(expected.starts_with("`)`"), "{expected}");
        assert_eq!(found, "end of line");
    }

    #[test]
    fn extra_close_paren() {
        let (line, col, expected, found) = syntax_err("(2 (2 a) (2 b)))");
        assert_eq!((line, col), (7, 16));
        assert!(expected.starts_with("end of line"), "{expected}");
        assert_eq!(found, "`)`");
        let (_, col, _, found) = syntax_err("(2 a))");
        assert_eq!((col, found.as_str()), (6, "`)`"));
    }

    #[test]
    fn trailing_text() {
        let (_, col, expected, found) = syntax_err("(2 a) x");
        assert_eq!(col, 6);
        assert!(expected.starts_with("end of line"), "{expected}");
        assert_eq!(found, "a space");
        let (_, col, _, found) = syntax_err("(2 a)(2 b)");
        assert_eq!((col, found.as_str()), (6, "`(`"));
        // A CR that is not the last character is not a line ending.
        let (_, col, _, found) = syntax_err("(2 a)\r\r");
        assert_eq!((col, found.as_str()), (6, "a carriage return (U+000D)"));
    }

    #[test]
    fn bad_labels() {
        let (_, col, expected, found) = syntax_err("(5 a)");
        assert_eq!(col, 2);
        assert_eq!(expected, "a label digit 0-4");
        assert_eq!(found, "`5`");
        let (_, col, _, found) = syntax_err("(2 (x a) (2 b))");
        assert_eq!((col, found.as_str()), (5, "`x`"));
        let (_, col, _, found) = syntax_err("( a)");
        assert_eq!((col, found.as_str()), (2, "a space"));
        let (_, col, _, found) = syntax_err("(");
        assert_eq!((col, found.as_str()), (2, "end of line"));
        let (_, col, expected, found) = syntax_err("(23 a)");
        assert_eq!(col, 3);
        assert!(expected.contains("single digit"), "{expected}");
        assert_eq!(found, "`3`");
        let (_, col, _, found) = syntax_err("(2a)");
        assert_eq!((col, found.as_str()), (3, "`a`"));
        let (_, col, _, found) = syntax_err("(-1 a)");
        assert_eq!((col, found.as_str()), (2, "`-`"));
    }

    #[test]
    fn missing_token() {
        let (line, col, expected, found) = syntax_err("(2 )");
        assert_eq!((line, col), (7, 4));
        assert!(expected.starts_with("a token"), "{expected}");
        assert_eq!(found, "`)`");
        let (_, col, _, found) = syntax_err("(2 (3 ) (2 b))");
        assert_eq!((col, found.as_str()), (7, "`)`"));
        let (_, col, _, found) = syntax_err("(2 ");
        assert_eq!((col, found.as_str()), (4, "end of line"));
        // Two spaces: the second one is where a token should be.
        let (_, col, _, found) = syntax_err("(2  a)");
        assert_eq!((col, found.as_str()), (4, "a space"));
    }

    #[test]
    fn non_binary_three_children() {
        let (line, col, expected, found) = syntax_err("(2 (2 a) (2 b) (2 c))");
        assert_eq!((line, col), (7, 15));
        assert!(expected.contains("at most two children"), "{expected}");
        assert_eq!(found, "a space");
    }

    #[test]
    fn non_binary_one_child() {
        let (_, col, expected, found) = syntax_err("(2 (2 a))");
        assert_eq!(col, 9);
        assert!(expected.contains("exactly two children"), "{expected}");
        assert_eq!(found, "`)`");
    }

    #[test]
    fn leaf_with_two_tokens_or_mixed_children() {
        let (_, col, expected, found) = syntax_err("(2 a b)");
        assert_eq!(col, 5);
        assert!(expected.contains("exactly one token"), "{expected}");
        assert_eq!(found, "a space");
        // A token where the second subtree should be.
        let (_, col, expected, found) = syntax_err("(2 (2 a) b)");
        assert_eq!(col, 10);
        assert!(expected.contains("second subtree"), "{expected}");
        assert_eq!(found, "`b`");
        // A subtree after a token.
        let (_, col, _, found) = syntax_err("(2 a (2 b))");
        assert_eq!((col, found.as_str()), (5, "a space"));
        let (_, col, _, found) = syntax_err("(2 a(2 b))");
        assert_eq!((col, found.as_str()), (5, "`(`"));
    }

    #[test]
    fn other_whitespace_is_rejected_not_split() {
        let (_, col, expected, found) = syntax_err("(2 a\tb)");
        assert_eq!(col, 5);
        assert!(expected.contains("control characters"), "{expected}");
        assert_eq!(found, "a tab (U+0009)");
        let (_, col, _, found) = syntax_err("(2\ta)");
        assert_eq!((col, found.as_str()), (3, "a tab (U+0009)"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        // "é" is two bytes; the stray `)` is character 16, byte 17.
        let (_, col, _, found) = syntax_err("(2 (2 é) (2 b)))");
        assert_eq!(col, 16);
        assert_eq!(found, "`)`");
        let (_, col, _, found) = syntax_err("(2 éé b)");
        assert_eq!((col, found.as_str()), (6, "a space"));
        let (_, col, _, found) = syntax_err("\u{feff}(2 a)");
        assert_eq!((col, found.as_str()), (1, "`\u{feff}` (U+FEFF)"));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // 200k nested left children: valid, and parsed without recursion.
        let depth = 200_000;
        let mut s = String::new();
        for _ in 0..depth {
            s.push_str("(2 ");
        }
        s.push_str("(2 x)");
        for _ in 0..depth {
            s.push_str(" (2 y))");
        }
        let t = parse(&s).unwrap();
        assert_eq!(t.tokens.len(), depth + 1);
        assert_eq!(t.spans.len(), 2 * depth + 1);
        assert_eq!(*t.spans.last().unwrap(), span(0, depth + 1, 2));
        // Unclosed: an error, not a stack overflow.
        let unclosed = "(2 ".repeat(depth);
        let (_, col, _, found) = syntax_err(&unclosed);
        assert_eq!((col, found.as_str()), (3 * depth + 1, "end of line"));
    }

    #[test]
    fn file_lines_and_final_newline() {
        let p = Path::new("f.txt");
        let two = parse_trees(b"(2 a)\n(3 (2 b) (4 c))\n", p, usize::MAX).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].tokens, vec!["b", "c"]);
        assert_eq!(parse_trees(b"(2 a)\n(3 (2 b) (4 c))", p, usize::MAX).unwrap(), two);
        assert_eq!(parse_trees(b"(2 a)\r\n(3 (2 b) (4 c))\r\n", p, usize::MAX).unwrap(), two);
        assert!(parse_trees(b"", p, usize::MAX).unwrap().is_empty());
        match parse_trees(b"(2 a)\n\n(2 b)\n", p, usize::MAX) {
            Err(SstError::Syntax { line, column, path, .. }) => {
                assert_eq!((line, column), (2, 1));
                assert_eq!(path, p);
            }
            other => panic!("{other:?}"),
        }
        // Two final newlines: the second line is empty.
        match parse_trees(b"(2 a)\n\n", p, usize::MAX) {
            Err(SstError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 1)),
            other => panic!("{other:?}"),
        }
        // The third line's error reports line 3.
        match parse_trees(b"(2 a)\n(2 b)\n(2 c", p, usize::MAX) {
            Err(SstError::Syntax { line, column, .. }) => assert_eq!((line, column), (3, 5)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_reports_line_and_byte_column() {
        let p = Path::new("f.txt");
        match parse_trees(b"(2 a)\n(2 (2 \xc3\xa9) (2 b\xff))\n", p, usize::MAX) {
            Err(e @ SstError::Utf8 { .. }) => {
                let SstError::Utf8 { line, column, .. } = &e else { unreachable!() };
                // "(2 (2 é) (2 b" is 14 bytes; the bad byte is byte 15.
                assert_eq!((*line, *column), (2, 15));
                assert_eq!(e.to_string(), "f.txt:2:15: invalid UTF-8 (column counted in bytes)");
            }
            other => panic!("{other:?}"),
        }
        // Truncated multi-byte sequence at the end of the first line.
        match parse_trees(b"(2 a\xc3", p, usize::MAX) {
            Err(SstError::Utf8 { line, column, .. }) => assert_eq!((line, column), (1, 5)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_error_message() {
        let e = parse("(2 )").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.txt:7:4: expected a token"), "{msg}");
        assert!(msg.ends_with(", found `)`"), "{msg}");
    }

    #[test]
    fn a_tree_above_the_token_limit_is_refused_with_its_line() {
        let p = Path::new("big.txt");
        let contents = b"(2 a)\n(3 (2 b) (4 (2 c) (2 d)))\n";
        assert_eq!(parse_trees(contents, p, 3).unwrap().len(), 2);
        match parse_trees(contents, p, 2) {
            Err(SstError::TreeTooLarge { path, line: 2, tokens: 3, limit: 2 }) => assert_eq!(path, p),
            other => panic!("expected TreeTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn read_plain_and_gzip_files_and_load_split() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let content = b"(2 (3 a) (1 b))\n(4 c)\n";
        std::fs::write(dir.path().join("dev.txt"), content).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"(0 z)\n").unwrap();
        std::fs::write(dir.path().join("train.txt.gz"), gz.finish().unwrap()).unwrap();

        let dev = read_trees(&dir.path().join("dev.txt"), usize::MAX).unwrap();
        assert_eq!(dev.len(), 2);
        assert_eq!(dev[0].root_label(), 2);
        assert_eq!(load_split(dir.path(), Split::Dev, usize::MAX).unwrap(), dev);

        let train = load_split(dir.path(), Split::Train, usize::MAX).unwrap();
        assert_eq!(train.len(), 1);
        assert_eq!(train[0].tokens, vec!["z"]);
        // Both a .gz and a plain file: refused, naming both.
        std::fs::write(dir.path().join("train.txt"), content).unwrap();
        match load_split(dir.path(), Split::Train, usize::MAX) {
            Err(e @ SstError::Ambiguous { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("train.txt.gz") && msg.contains("train.txt "), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(dir.path().join("train.txt")).unwrap();

        match load_split(dir.path(), Split::Test, usize::MAX) {
            Err(e @ SstError::Missing { .. }) => {
                let msg = e.to_string();
                let SstError::Missing { split, tried, .. } = e else { unreachable!() };
                assert_eq!(split, "test");
                assert_eq!(tried, vec![dir.path().join("test.txt.gz"), dir.path().join("test.txt")]);
                assert!(msg.contains("test.txt.gz") && msg.contains("test.txt"), "{msg}");
                assert!(!msg.contains("--data"), "no command-line flag in the library: {msg}");
            }
            other => panic!("{other:?}"),
        }

        // A missing file given directly is an Io error naming the path.
        let missing = dir.path().join("nope.txt");
        match read_trees(&missing, usize::MAX) {
            Err(e @ SstError::Io { .. }) => {
                assert!(e.to_string().starts_with(&format!("cannot read {}: ", missing.display())))
            }
            other => panic!("{other:?}"),
        }
        // A corrupt .gz is an Io error.
        std::fs::write(dir.path().join("test.txt.gz"), b"not gzip").unwrap();
        assert!(matches!(load_split(dir.path(), Split::Test, usize::MAX), Err(SstError::Io { .. })));
        // Syntax errors in a file name that file.
        std::fs::write(dir.path().join("bad.txt"), b"(2 a)\n(2 (2 b)\n").unwrap();
        match read_trees(&dir.path().join("bad.txt"), usize::MAX) {
            Err(SstError::Syntax { path, line, column, .. }) => {
                assert_eq!(path, dir.path().join("bad.txt"));
                assert_eq!((line, column), (2, 9));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn byte_order_mark_and_crlf_are_accepted_in_files() {
        let p = Path::new("f.txt");
        let plain = parse_trees(b"(2 a)\n(3 (2 b) (4 c))\n", p, usize::MAX).unwrap();
        assert_eq!(parse_trees(b"\xEF\xBB\xBF(2 a)\r\n(3 (2 b) (4 c))\r\n", p, usize::MAX).unwrap(), plain);
        // Only at the start of the file: on a later line it is a stray character.
        match parse_trees(b"(2 a)\n\xEF\xBB\xBF(2 b)\n", p, usize::MAX) {
            Err(SstError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 1)),
            other => panic!("{other:?}"),
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dev.txt"), b"\xEF\xBB\xBF(2 a)\r\n(3 (2 b) (4 c))\r\n").unwrap();
        assert_eq!(load_split(dir.path(), Split::Dev, usize::MAX).unwrap(), plain);
    }

    #[test]
    fn empty_and_unusable_splits_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for contents in [&b""[..], b"\xEF\xBB\xBF", b"\xEF\xBB\xBF\n"] {
            std::fs::write(dir.path().join("dev.txt"), contents).unwrap();
            match load_split(dir.path(), Split::Dev, usize::MAX) {
                Err(e @ (SstError::Empty { .. } | SstError::Syntax { .. })) => {
                    assert!(e.to_string().contains(&dir.path().join("dev.txt").display().to_string()), "{e}")
                }
                other => panic!("{contents:?}: {other:?}"),
            }
        }
        std::fs::write(dir.path().join("dev.txt"), b"").unwrap();
        assert!(
            matches!(load_split(dir.path(), Split::Dev, usize::MAX), Err(SstError::Empty { ref split, .. }) if split == "dev")
        );
        // Neutral sentences only: fine-grained scores them, binary has nothing to score.
        std::fs::write(dir.path().join("dev.txt"), b"(2 (4 good) (0 bad))\n(2 so-so)\n").unwrap();
        assert_eq!(load_split_for(dir.path(), Split::Dev, Task::Fine, usize::MAX).unwrap().len(), 2);
        match load_split_for(dir.path(), Split::Dev, Task::Binary, usize::MAX) {
            Err(e @ SstError::NoUsableSentence { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("dev.txt") && msg.contains("none of its 2 sentences"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_mapping() {
        assert_eq!(Task::Binary.map_label(0), Some(0));
        assert_eq!(Task::Binary.map_label(1), Some(0));
        assert_eq!(Task::Binary.map_label(2), None);
        assert_eq!(Task::Binary.map_label(3), Some(1));
        assert_eq!(Task::Binary.map_label(4), Some(1));
        assert_eq!(Task::Binary.map_label(5), None);
        for l in 0..5 {
            assert_eq!(Task::Fine.map_label(l), Some(l));
        }
        assert_eq!(Task::Fine.map_label(5), None);
        assert_eq!(Task::Fine.num_classes(), 5);
        assert_eq!(Task::Binary.num_classes(), 2);
        assert_eq!(Task::Binary.class_names(), ["negative", "positive"]);
        assert_eq!(Task::Fine.class_names()[0], "very negative");
        assert_eq!(Task::Fine.class_names()[4], "very positive");
    }

    #[test]
    fn names_parse_display_serde() {
        for split in Split::ALL {
            assert_eq!(split.name().parse::<Split>(), Ok(split));
            assert_eq!(split.to_string(), split.name());
            assert_eq!(serde_json::to_string(&split).unwrap(), format!("\"{}\"", split.name()));
        }
        assert_eq!("TRAIN".parse::<Split>(), Ok(Split::Train));
        let err = "valid".parse::<Split>().unwrap_err();
        assert!(err.contains("train") && err.contains("dev") && err.contains("test"));
        for task in Task::ALL {
            assert_eq!(task.name().parse::<Task>(), Ok(task));
            assert_eq!(task.to_string(), task.name());
            let json = serde_json::to_string(&task).unwrap();
            assert_eq!(json, format!("\"{}\"", task.name()));
            assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        }
        let err = "sst2".parse::<Task>().unwrap_err();
        assert!(err.contains("fine") && err.contains("binary"));
    }
}
