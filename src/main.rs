//! The `salient` command line: argument parsing and glue; the library does the work.

mod cli;

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Small recurrent matmuls run 2-4x slower on two threads than on one; leave the user's
    // choice alone if they made one.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    salient::alloc::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SALIENT_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Print the chain once: skip a cause whose text its parent already says.
            let mut shown = e.to_string();
            eprintln!("error: {}", cli::escape_terminal(&shown));
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {}", cli::escape_terminal(&text));
                }
                shown = text;
            }
            if let Some(hint) = e.chain().find_map(cli::hint) {
                eprintln!("  hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}
