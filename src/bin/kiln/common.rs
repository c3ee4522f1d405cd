//! What every subcommand shares: the error type (exit code 2), loading a model,
//! resolving fetch names and parsing `--feed-shape`.

use kiln::ir::{Dim, Module, OpKind, ValueId};
use kiln::{Graph, Tensor};
use std::collections::HashSet;
use std::fmt;

/// A failure the CLI reports as `error: ...` with an exit code.
#[derive(Debug)]
pub struct CliError {
    /// The message, without the `error: ` prefix.
    pub message: String,
    /// 2 for bad input (arguments, files, IR, feeds); 1 for a failed `--check`.
    pub code: u8,
}

impl CliError {
    /// Bad input: exit code 2.
    pub fn input(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), code: 2 }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A library error as the CLI shows it: the `file:line:col` the library reports is the
/// CLI's own call site, which tells a user nothing, so it is dropped.
pub fn lib_error(e: impl fmt::Display) -> CliError {
    let s = e.to_string();
    let own = s.starts_with("src/bin/kiln/") || s.starts_with("src/");
    let message = match s.split_once(": ") {
        Some((head, rest)) if own && head.contains(".rs:") => rest.to_string(),
        _ => s,
    };
    CliError::input(message)
}

/// Reads and verifies a `.kir` file into a graph.
pub fn load(path: &str) -> Result<Graph, CliError> {
    Graph::load_ir(path).map_err(lib_error)
}

/// The values to compute: the `--fetch` names, or by default every op nothing else
/// uses except variable initializers (in a saved training graph: the train op and the
/// loss, not `init`).
pub fn fetches(g: &Graph, names: &[String]) -> Result<Vec<Tensor>, CliError> {
    if !names.is_empty() {
        let unknown = |n: &String| CliError::input(format!("--fetch {n}: the model has no op named '{n}'"));
        return names.iter().map(|n| g.get_tensor_by_name(n).map_err(|_| unknown(n))).collect();
    }
    let inits: HashSet<ValueId> =
        g.global_variables().iter().filter_map(|v| g.initializer_of(v)?.value().ok()).collect();
    let m = g.module();
    let mut used = vec![false; m.ops.len()];
    for v in m.values() {
        for u in &m.op(v).operands {
            used[u.index()] = true;
        }
    }
    let is_init = |v: ValueId| {
        inits.contains(&v)
            || matches!(m.op(v).kind, OpKind::Group)
                && !m.op(v).operands.is_empty()
                && m.op(v).operands.iter().all(|u| inits.contains(u))
    };
    let sinks: Vec<String> = m
        .values()
        .filter(|&v| !used[v.index()] && !is_init(v) && !matches!(m.op(v).kind, OpKind::Parameter))
        .map(|v| m.op(v).name.clone())
        .collect();
    drop(m);
    if sinks.is_empty() {
        return Err(CliError::input("the model computes nothing; name what to compute with --fetch"));
    }
    sinks.iter().map(|n| g.get_tensor_by_name(n).map_err(lib_error)).collect()
}

/// `name=32x1` (or `name=32,1`; `name=` for a scalar).
pub fn parse_feed_shape(s: &str) -> Result<(String, Vec<usize>), CliError> {
    let bad = || CliError::input(format!("--feed-shape {s:?}: expected NAME=DIMS, dims joined by 'x' (x=32x1)"));
    let (name, dims) = s.split_once('=').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let dims = if dims.is_empty() {
        Vec::new()
    } else {
        dims.split(['x', ',']).map(|d| d.trim().parse::<usize>().map_err(|_| bad())).collect::<Result<_, _>>()?
    };
    Ok((name.to_string(), dims))
}

/// Checks a shape against a placeholder's declared shape (rank and fixed dims).
pub fn check_shape(m: &Module, v: ValueId, shape: &[usize], what: &str) -> Result<(), CliError> {
    let op = m.op(v);
    if !matches!(op.kind, OpKind::Parameter) {
        return Err(CliError::input(format!("{what}: '{}' is not a placeholder", op.name)));
    }
    let declared = op.ty.as_ref().map(|t| t.shape.clone()).unwrap_or_default();
    let fits = declared.rank() == shape.len()
        && declared.dims().iter().zip(shape).all(|(d, &n)| !matches!(d, Dim::Fixed(f) if *f as usize != n));
    if fits {
        Ok(())
    } else {
        let given = kiln::ir::Shape::fixed(shape);
        Err(CliError::input(format!("{what}: '{}' is {declared}, the shape given is {given}", op.name)))
    }
}
