//! `kiln`: compile, run and explain models saved as IR text.
//!
//! ```text
//! kiln compile MODEL.kir [--fetch a,b] [--feed-shape x=32x1] [--emit ir|fused|clif|asm|dot|dot-ir]
//!                        [--dump-dir DIR] [--dump-after REGEX|all] [--no-fusion] [--disable-pass NAME]
//! kiln run MODEL.kir --feed x=x.npy --fetch y --out DIR [--backend jit|interp] [--check]
//! kiln explain MODEL.kir [--fetch a,b]
//! ```
//!
//! Errors print `error: ...` on stderr and exit with code 2 (1 for a failed `--check`).

mod common;
mod compile;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kiln: a graph-to-kernel compiler for TensorFlow-1-style graphs.
#[derive(Parser, Debug)]
#[command(name = "kiln", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile a model and print what was built: passes, kernels, arena, time.
    Compile(compile::CompileArgs),
    /// Run a model on .npy inputs and write its fetches as .npy files.
    Run(run::RunArgs),
    /// Say what was fused into each kernel and why, and what was not and why.
    Explain(compile::Target),
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with code 2 (help and version: 0)
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Compile(a) => compile::compile(a),
        Command::Run(a) => run::run(a),
        Command::Explain(t) => compile::explain(t),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}
