//! The export spec reader (TOML text -> `Spec`) on arbitrary text: an error or a spec, never a
//! panic. Goes through the public entry point that the `export` command uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salient::export::batch::Spec;

fuzz_target!(|text: &str| {
    if let Ok(spec) = Spec::parse(text, "fuzz.toml") {
        assert!(!spec.figures.is_empty());
    }
});
