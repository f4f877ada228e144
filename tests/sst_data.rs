//! Loads the shipped `data/sst` splits and checks them against the counts in
//! `data/sst/README.md`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use salient::data::sst::{load_split, Split, Task, Tree};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sst")
}

/// Expected statistics of one split, from the README.
struct Expected {
    split: Split,
    sentences: usize,
    nodes: usize,
    tokens: usize,
    vocab: usize,
    max_len: usize,
    root_labels: [usize; 5],
    binary: usize,
    node_labels: [usize; 5],
    non_ascii_lines: usize,
}

const EXPECTED: [Expected; 3] = [
    Expected {
        split: Split::Train,
        sentences: 8544,
        nodes: 318582,
        tokens: 163563,
        vocab: 18280,
        max_len: 52,
        root_labels: [1092, 2218, 1624, 2322, 1288],
        binary: 6920,
        node_labels: [8245, 34362, 219788, 44194, 11993],
        non_ascii_lines: 90,
    },
    Expected {
        split: Split::Dev,
        sentences: 1101,
        nodes: 41447,
        tokens: 21274,
        vocab: 5374,
        max_len: 49,
        root_labels: [139, 289, 229, 279, 165],
        binary: 872,
        node_labels: [1070, 4613, 28305, 5781, 1678],
        non_ascii_lines: 7,
    },
    Expected {
        split: Split::Test,
        sentences: 2210,
        nodes: 82600,
        tokens: 42405,
        vocab: 8547,
        max_len: 56,
        root_labels: [279, 633, 389, 510, 399],
        binary: 1821,
        node_labels: [2008, 9255, 56548, 10998, 3791],
        non_ascii_lines: 10,
    },
];

/// Checks the structural invariants every parsed tree must satisfy.
fn check_tree(tree: &Tree) {
    let n = tree.tokens.len();
    assert!(n > 0);
    assert_eq!(tree.spans.len(), 2 * n - 1, "nodes = 2 * words - 1");
    let root = tree.spans.last().unwrap();
    assert_eq!((root.start, root.end), (0, n), "root span is last");
    assert_eq!(tree.root_label(), root.label);
    // Leaves appear in token order, and every span is well formed.
    let leaves: Vec<_> = tree.spans.iter().filter(|s| s.end - s.start == 1).collect();
    assert_eq!(leaves.len(), n);
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(leaf.start, i);
    }
    for span in &tree.spans {
        assert!(span.start < span.end && span.end <= n && span.label <= 4);
        assert_eq!(tree.phrase_tokens(span).len(), span.end - span.start);
    }
    for token in &tree.tokens {
        assert!(!token.is_empty() && !token.contains([' ', '(', ')']));
    }
}

#[test]
fn shipped_splits_match_readme_counts() {
    let dir = data_dir();
    let mut all_vocab = HashSet::new();
    for exp in &EXPECTED {
        let trees = load_split(&dir, exp.split, usize::MAX).unwrap_or_else(|e| panic!("{e}"));
        let name = exp.split.name();
        assert_eq!(trees.len(), exp.sentences, "{name} sentences");

        let nodes: usize = trees.iter().map(|t| t.spans.len()).sum();
        let tokens: usize = trees.iter().map(|t| t.tokens.len()).sum();
        let max_len = trees.iter().map(|t| t.tokens.len()).max().unwrap();
        assert_eq!(nodes, exp.nodes, "{name} nodes");
        assert_eq!(tokens, exp.tokens, "{name} tokens");
        assert_eq!(max_len, exp.max_len, "{name} max len");

        let vocab: HashSet<&str> = trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)).collect();
        assert_eq!(vocab.len(), exp.vocab, "{name} vocab");
        all_vocab.extend(vocab.into_iter().map(str::to_string));

        let mut roots = [0usize; 5];
        let mut node_labels = [0usize; 5];
        for tree in &trees {
            check_tree(tree);
            roots[tree.root_label() as usize] += 1;
            for span in &tree.spans {
                node_labels[span.label as usize] += 1;
            }
        }
        assert_eq!(roots, exp.root_labels, "{name} root labels");
        assert_eq!(node_labels, exp.node_labels, "{name} node labels");

        let binary = trees.iter().filter(|t| Task::Binary.map_label(t.root_label()).is_some()).count();
        assert_eq!(binary, exp.binary, "{name} binary sentences");

        let non_ascii = trees.iter().filter(|t| t.tokens.iter().any(|w| !w.is_ascii())).count();
        assert_eq!(non_ascii, exp.non_ascii_lines, "{name} non-ASCII lines");
    }
    assert_eq!(all_vocab.len(), 21701, "vocab over all splits");
    let lower: HashSet<String> = all_vocab.iter().map(|w| w.to_lowercase()).collect();
    assert_eq!(lower.len(), 19538, "lower-cased vocab over all splits");
}

#[test]
fn nbsp_tokens_are_kept_whole() {
    let train = load_split(&data_dir(), Split::Train, usize::MAX).unwrap();
    let nbsp: Vec<&String> = train.iter().flat_map(|t| &t.tokens).filter(|w| w.contains('\u{a0}')).collect();
    assert_eq!(nbsp.len(), 3, "{nbsp:?}");
    assert!(nbsp.iter().any(|w| *w == "8\u{a0}1\\/2"), "{nbsp:?}");
}

#[test]
fn first_test_tree() {
    let test = load_split(&data_dir(), Split::Test, usize::MAX).unwrap();
    let t = &test[0];
    assert_eq!(t.tokens, ["Effective", "but", "too-tepid", "biopic"]);
    let labels: Vec<u8> = t.spans.iter().map(|s| s.label).collect();
    assert_eq!(labels, [3, 2, 3, 1, 2, 1, 2]);
    assert_eq!(t.root_label(), 2);
}

/// Times parsing `train` (decompression excluded). Informational only; run
/// with `--nocapture` to see the number.
#[test]
fn parse_train_timing() {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data_dir().join("train.txt.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let path = Path::new("train.txt");
    let start = std::time::Instant::now();
    let trees: Vec<Tree> =
        text.lines().enumerate().map(|(i, line)| salient::data::sst::parse_tree(line, path, i + 1).unwrap()).collect();
    let elapsed = start.elapsed();
    assert_eq!(trees.len(), 8544);
    println!("parsed {} train trees in {:.1} ms", trees.len(), elapsed.as_secs_f64() * 1e3);
}

/// The test split saved by a Windows editor (a byte-order mark, CRLF line ends) reads the same.
#[test]
fn bom_and_crlf_copy_reads_the_same() {
    let bytes = salient::data::text::read_file(&data_dir().join("test.txt.gz")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let windows = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.txt"), windows).unwrap();
    assert_eq!(
        load_split(dir.path(), Split::Test, usize::MAX).unwrap(),
        load_split(&data_dir(), Split::Test, usize::MAX).unwrap()
    );
}
