//! The SST tree reader on arbitrary file contents: never a panic or a stack overflow, and every
//! tree it accepts is a well-formed binary tree.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use salient::data::sst::{parse_tree, parse_trees, Tree};

fn check(tree: &Tree) {
    let n = tree.tokens.len();
    assert!(n > 0);
    assert_eq!(tree.spans.len(), 2 * n - 1);
    let root = tree.spans.last().unwrap();
    assert_eq!((root.start, root.end), (0, n));
    assert_eq!(tree.root_label(), root.label);
    for span in &tree.spans {
        assert!(span.start < span.end && span.end <= n && span.label <= 4);
    }
    for token in &tree.tokens {
        assert!(!token.is_empty() && !token.contains([' ', '(', ')']));
    }
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.txt");
    if let Ok(trees) = parse_trees(data, path, usize::MAX) {
        trees.iter().for_each(check);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tree) = parse_tree(text, path, 1) {
            check(&tree);
        }
    }
});
