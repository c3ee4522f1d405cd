//! The ABI's text form: one header line per call, then one line per slot and per error
//! site. [`parse`] reads what [`Abi::print`] writes, so ABI tests are text in, text out.
//!
//! ```text
//! abi {
//!   fusion.0: loop splits
//!     slot0 extent nest0 dim0
//!     slot1 ptr nest0 in0 w64
//!     slot2 stride nest0 in0 dim0
//!     tag1 gather nest0 node2 site0
//!   matmul.1: matmul rows_of_b
//!     slot0 gemm a
//!   host.2: host
//! }
//! ```

use super::{Abi, CallAbi, CallKind, ErrorSite, GemmField, MatMulKind, Port, Slot, Width, GEMM_FIELDS};
use std::fmt::Write;

/// A line of ABI text that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("abi text line {line}: {message}")]
pub struct AbiParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn port(p: Port) -> String {
    match p {
        Port::In(i) => format!("in{i}"),
        Port::Out(i) => format!("out{i}"),
    }
}

fn gemm_name(f: GemmField) -> &'static str {
    match f {
        GemmField::A => "a",
        GemmField::B => "b",
        GemmField::C => "c",
        GemmField::M => "m",
        GemmField::K => "k",
        GemmField::N => "n",
        GemmField::Rsa => "rsa",
        GemmField::Csa => "csa",
        GemmField::Rsb => "rsb",
        GemmField::Csb => "csb",
    }
}

fn slot_text(s: Slot) -> String {
    match s {
        Slot::Extent { nest, dim } => format!("extent nest{nest} dim{dim}"),
        Slot::Ptr { nest, port: p, width } => format!("ptr nest{nest} {} {}", port(p), width.mnemonic()),
        Slot::Stride { nest, port: p, dim } => format!("stride nest{nest} {} dim{dim}", port(p)),
        Slot::OutLen { nest, output } => format!("out_len nest{nest} out{output}"),
        Slot::Scalar { nest, index } => format!("scalar nest{nest} {index}"),
        Slot::MeanScale { nest, output } => format!("mean_scale nest{nest} out{output}"),
        Slot::RowStride { nest, site } => format!("row_stride nest{nest} site{site}"),
        Slot::Rows { nest, site } => format!("rows nest{nest} site{site}"),
        Slot::ErrorTag { nest } => format!("error_tag nest{nest}"),
        Slot::ErrorIndex { nest } => format!("error_index nest{nest}"),
        Slot::Gemm(f) => format!("gemm {}", gemm_name(f)),
    }
}

fn site_text(e: ErrorSite) -> String {
    match e {
        ErrorSite::Gather { nest, node, site } => format!("gather nest{nest} node{node} site{site}"),
        ErrorSite::CheckIndex { nest, node, bound } => format!("check_index nest{nest} node{node} bound{bound}"),
        ErrorSite::Scatter { nest, output, site } => format!("scatter nest{nest} out{output} site{site}"),
    }
}

impl Abi {
    /// The text form, each call under the name `names[i]` (the schedule's step names:
    /// [`crate::schedule::Schedule::step_name`]).
    pub fn print_named(&self, names: &[String]) -> String {
        let mut s = String::from("abi {\n");
        for (i, c) in self.calls.iter().enumerate() {
            let name = names.get(i).map_or_else(|| format!("step{i}"), Clone::clone);
            let kind = match c.kind {
                CallKind::Loop { deferred: false } => "loop".to_string(),
                CallKind::Loop { deferred: true } => "loop deferred".to_string(),
                CallKind::MatMul(k) => format!("matmul {}", k.mnemonic()),
                CallKind::Host => "host".to_string(),
            };
            let _ = writeln!(s, "  {name}: {kind}{}", if c.splits { " splits" } else { "" });
            for (at, &slot) in c.slots.iter().enumerate() {
                let _ = writeln!(s, "    slot{at} {}", slot_text(slot));
            }
            for (t, &e) in c.errors.iter().enumerate() {
                let _ = writeln!(s, "    tag{} {}", t + 1, site_text(e));
            }
        }
        s.push_str("}\n");
        s
    }

    /// The text form of the ABI of `sched`'s steps.
    pub fn print(&self, sched: &crate::schedule::Schedule) -> String {
        let names: Vec<String> = (0..sched.steps.len()).map(|i| sched.step_name(i)).collect();
        self.print_named(&names)
    }
}

/// `prefix` followed by a number, as `nest3`.
fn num<T: std::str::FromStr>(word: Option<&str>, prefix: &str) -> Result<T, String> {
    let w = word.ok_or_else(|| format!("expected {prefix}N"))?;
    w.strip_prefix(prefix).and_then(|d| d.parse().ok()).ok_or_else(|| format!("expected {prefix}N, found '{w}'"))
}

fn parse_port(word: Option<&str>) -> Result<Port, String> {
    match word {
        Some(w) if w.starts_with("in") => Ok(Port::In(num(Some(w), "in")?)),
        Some(w) if w.starts_with("out") => Ok(Port::Out(num(Some(w), "out")?)),
        _ => Err(format!("expected inN or outN, found {word:?}")),
    }
}

fn parse_slot(words: &[&str]) -> Result<Slot, String> {
    let mut it = words.iter().copied();
    let head = it.next().ok_or("empty slot")?;
    let mut nest = || num::<u32>(it.next(), "nest");
    let slot = match head {
        "gemm" => {
            let f = words.get(1).ok_or("expected a gemm field")?;
            let f = GEMM_FIELDS.iter().find(|&&g| gemm_name(g) == *f).ok_or(format!("no gemm field '{f}'"))?;
            return Ok(Slot::Gemm(*f));
        }
        "extent" => Slot::Extent { nest: nest()?, dim: num(words.get(2).copied(), "dim")? },
        "ptr" => {
            let width = match words.get(3).copied() {
                Some("w32") => Width::W32,
                Some("w64") => Width::W64,
                w => return Err(format!("expected w32 or w64, found {w:?}")),
            };
            Slot::Ptr { nest: nest()?, port: parse_port(words.get(2).copied())?, width }
        }
        "stride" => Slot::Stride {
            nest: nest()?,
            port: parse_port(words.get(2).copied())?,
            dim: num(words.get(3).copied(), "dim")?,
        },
        "out_len" => Slot::OutLen { nest: nest()?, output: num(words.get(2).copied(), "out")? },
        "scalar" => Slot::Scalar { nest: nest()?, index: num(words.get(2).copied(), "")? },
        "mean_scale" => Slot::MeanScale { nest: nest()?, output: num(words.get(2).copied(), "out")? },
        "row_stride" => Slot::RowStride { nest: nest()?, site: num(words.get(2).copied(), "site")? },
        "rows" => Slot::Rows { nest: nest()?, site: num(words.get(2).copied(), "site")? },
        "error_tag" => Slot::ErrorTag { nest: nest()? },
        "error_index" => Slot::ErrorIndex { nest: nest()? },
        w => return Err(format!("unknown slot kind '{w}'")),
    };
    Ok(slot)
}

fn parse_site(words: &[&str]) -> Result<ErrorSite, String> {
    let w = |i: usize| words.get(i).copied();
    match w(0) {
        Some("gather") => {
            Ok(ErrorSite::Gather { nest: num(w(1), "nest")?, node: num(w(2), "node")?, site: num(w(3), "site")? })
        }
        Some("check_index") => {
            Ok(ErrorSite::CheckIndex { nest: num(w(1), "nest")?, node: num(w(2), "node")?, bound: num(w(3), "bound")? })
        }
        Some("scatter") => {
            Ok(ErrorSite::Scatter { nest: num(w(1), "nest")?, output: num(w(2), "out")?, site: num(w(3), "site")? })
        }
        other => Err(format!("unknown error site {other:?}")),
    }
}

fn parse_kind(words: &[&str]) -> Result<(CallKind, bool), String> {
    let splits = words.last() == Some(&"splits");
    let words = if splits { &words[..words.len() - 1] } else { words };
    let kind = match words {
        ["loop"] => CallKind::Loop { deferred: false },
        ["loop", "deferred"] => CallKind::Loop { deferred: true },
        ["host"] => CallKind::Host,
        ["matmul", k] => CallKind::MatMul(match *k {
            "rows_of_b" => MatMulKind::RowsOfB,
            "dot_along_k" => MatMulKind::DotAlongK,
            "scalar" => MatMulKind::Scalar,
            _ => return Err(format!("unknown matmul kind '{k}'")),
        }),
        _ => return Err(format!("unknown call kind '{}'", words.join(" "))),
    };
    Ok((kind, splits))
}

/// Parses the text [`Abi::print`] writes: the ABI and each call's name.
pub fn parse(text: &str) -> Result<(Vec<String>, Abi), AbiParseError> {
    let mut names = Vec::new();
    let mut calls = Vec::new();
    // the call being read: (kind, splits, slots, errors)
    let mut cur: Option<(CallKind, bool, Vec<Slot>, Vec<ErrorSite>)> = None;
    let (mut started, mut closed) = (false, false);
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| AbiParseError { line: i + 1, message };
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if !started {
            if line != "abi {" {
                return Err(err("expected 'abi {'".into()));
            }
            started = true;
            continue;
        }
        if closed {
            return Err(err("text after the closing '}'".into()));
        }
        if line == "}" {
            closed = true;
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(rest) = words[0].strip_prefix("slot") {
            let (_, _, slots, _) = cur.as_mut().ok_or_else(|| err("a slot outside a call".into()))?;
            if rest.parse::<usize>().ok() != Some(slots.len()) {
                return Err(err(format!("expected slot{}, found {}", slots.len(), words[0])));
            }
            slots.push(parse_slot(&words[1..]).map_err(err)?);
        } else if let Some(rest) = words[0].strip_prefix("tag") {
            let (_, _, _, errors) = cur.as_mut().ok_or_else(|| err("a tag outside a call".into()))?;
            if rest.parse::<usize>().ok() != Some(errors.len() + 1) {
                return Err(err(format!("expected tag{}, found {}", errors.len() + 1, words[0])));
            }
            errors.push(parse_site(&words[1..]).map_err(err)?);
        } else if let Some(name) = words[0].strip_suffix(':') {
            if let Some((k, sp, sl, er)) = cur.take() {
                calls.push(CallAbi::new(k, sp, sl, er));
            }
            let (kind, splits) = parse_kind(&words[1..]).map_err(err)?;
            names.push(name.to_string());
            cur = Some((kind, splits, Vec::new(), Vec::new()));
        } else {
            return Err(err(format!("unexpected '{line}'")));
        }
    }
    if !closed {
        return Err(AbiParseError { line: text.lines().count(), message: "missing the closing '}'".into() });
    }
    if let Some((k, sp, sl, er)) = cur.take() {
        calls.push(CallAbi::new(k, sp, sl, er));
    }
    Ok((names, Abi { calls }))
}
