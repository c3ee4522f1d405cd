//! Graphviz DOT export of a module: one node per op (name, op, type), one edge per
//! operand, and optional clusters (a fused kernel drawn as a box around its ops).

use crate::{Module, OpKind, ValueId};
use std::fmt::Write;

/// A named group of ops drawn as one `subgraph cluster_N`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// The cluster's label (a kernel name, say).
    pub label: String,
    /// The ops inside it.
    pub ops: Vec<ValueId>,
}

/// A DOT string literal: quotes, backslashes and newlines escaped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn node_label(m: &Module, v: ValueId) -> String {
    let op = m.op(v);
    let what = match &op.kind {
        OpKind::Read(var) | OpKind::Assign(var) => format!("{} @{}", op.kind.mnemonic(), m.var(*var).name),
        k => k.mnemonic().to_string(),
    };
    match &op.ty {
        Some(t) => format!("%{}\n{what} : {t}", op.name),
        None => format!("%{}\n{what}", op.name),
    }
}

/// The module as a DOT digraph named `name`. Ops listed in a cluster are drawn inside
/// it; an op in several clusters (a value a kernel recomputes) goes in the first.
pub fn to_dot(m: &Module, name: &str, clusters: &[Cluster]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quoted(name));
    out.push_str("  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
    let mut placed = vec![false; m.ops.len()];
    for (i, c) in clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(out, "    label = {};", quoted(&c.label));
        out.push_str("    style = rounded; color = blue;\n");
        for &v in &c.ops {
            if v.index() < placed.len() && !placed[v.index()] {
                placed[v.index()] = true;
                let _ = writeln!(out, "    n{} [label = {}];", v.index(), quoted(&node_label(m, v)));
            }
        }
        out.push_str("  }\n");
    }
    for v in m.values() {
        if !placed[v.index()] {
            let style = match m.op(v).kind {
                OpKind::Parameter => ", style = filled, fillcolor = lightyellow",
                OpKind::Read(_) | OpKind::Assign(_) => ", style = filled, fillcolor = lightgrey",
                _ => "",
            };
            let _ = writeln!(out, "  n{} [label = {}{style}];", v.index(), quoted(&node_label(m, v)));
        }
    }
    for v in m.values() {
        for u in &m.op(v).operands {
            let _ = writeln!(out, "  n{} -> n{};", u.index(), v.index());
        }
    }
    out.push_str("}\n");
    out
}
