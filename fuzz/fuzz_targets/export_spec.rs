//! The export spec reader (TOML text -> `Spec`, every figure's options checked) on arbitrary
//! text: an error or a spec, never a panic. Goes through the public entry point that the
//! `export` command uses.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use salient::figures::spec::Spec;

fuzz_target!(|text: &str| {
    if let Ok(spec) = Spec::parse(text, "fuzz.toml", Path::new(".")) {
        assert!(!spec.figures.is_empty());
    }
});
