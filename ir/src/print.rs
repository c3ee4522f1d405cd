//! The text form of a module. [`crate::parse`] reads it back: `print(parse(t)) == t`.

use crate::{Literal, Module, Op, OpKind, ValueId};
use std::fmt::Write;

/// Prints a module in kiln's IR text syntax (see `docs/ir.md`).
pub fn print(m: &Module) -> String {
    let mut out = String::from("module {\n");
    for (a, b) in &m.constraints {
        let _ = writeln!(out, "  constraint {a} = {b}");
    }
    for v in &m.vars {
        let _ = write!(out, "  var @{} : {}", v.name, v.ty);
        if v.trainable {
            out.push_str(" trainable");
        }
        if let Some(l) = &v.loc {
            let _ = write!(out, " loc({}:{}:{})", quote(&l.file), l.line, l.col);
        }
        out.push('\n');
    }
    let bodies: Vec<String> = m.ops.iter().map(|op| op_text(m, op)).collect();
    // align locations into a column so a dump reads as a table
    let width = bodies.iter().map(|b| b.len()).filter(|&w| w <= 72).max().unwrap_or(0);
    for (op, body) in m.ops.iter().zip(&bodies) {
        out.push_str("  ");
        out.push_str(body);
        if let Some(l) = &op.loc {
            let pad = width.saturating_sub(body.len());
            let _ = write!(out, "{:pad$}  loc({}:{}:{})", "", quote(&l.file), l.line, l.col);
        }
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// One op without its location: `%name = mnemonic operands {attrs} : type`.
pub fn op_text(m: &Module, op: &Op) -> String {
    let mut s = format!("%{} = {}", op.name, op.kind.mnemonic());
    let name = |v: &ValueId| format!("%{}", m.ops.get(v.index()).map_or("?", |o| o.name.as_str()));
    let mut args: Vec<String> = Vec::new();
    match &op.kind {
        OpKind::Read(var) | OpKind::Assign(var) => {
            args.push(format!("@{}", m.vars.get(var.index()).map_or("?", |v| v.name.as_str())));
        }
        OpKind::Constant(lit) => args.push(literal_text(lit)),
        _ => {}
    }
    args.extend(op.operands.iter().map(name));
    if !args.is_empty() {
        s.push(' ');
        s.push_str(&args.join(", "));
    }
    let attrs = op.kind.attr_text();
    if !attrs.is_empty() {
        let _ = write!(s, " {{{attrs}}}");
    }
    match &op.ty {
        Some(t) => {
            let _ = write!(s, " : {t}");
        }
        None => s.push_str(" : ()"),
    }
    s
}

fn list(xs: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", xs.into_iter().collect::<Vec<_>>().join(", "))
}

/// Literal data in brackets; floats in Rust's shortest round-trip form.
pub fn literal_text(lit: &Literal) -> String {
    match lit {
        Literal::F32(v) => list(v.iter().map(|x| format!("{x:?}"))),
        Literal::F64(v) => list(v.iter().map(|x| format!("{x:?}"))),
        Literal::I32(v) => list(v.iter().map(|x| x.to_string())),
        Literal::I64(v) => list(v.iter().map(|x| x.to_string())),
        Literal::Bool(v) => list(v.iter().map(|x| x.to_string())),
        Literal::U8(v) => list(v.iter().map(|x| x.to_string())),
        Literal::I8(v) => list(v.iter().map(|x| x.to_string())),
        Literal::U16(v) => list(v.iter().map(|x| x.to_string())),
        Literal::I16(v) => list(v.iter().map(|x| x.to_string())),
    }
}

/// A string in IR text: `"` and `\\` escaped, `\n`, `\r`, `\t`, `\0` for those
/// characters and `\u{XX}` for other control characters, which the parser reads back
/// to the same string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
