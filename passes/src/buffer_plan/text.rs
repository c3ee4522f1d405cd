//! The buffer plan as text: each slot with its members and their shapes, then every
//! buffer living elsewhere. [`parse`] reads it back against the schedule it was made
//! for, so a plan's tests are text in, text out.
//!
//! ```text
//! slot0: %y [?0,20], %d [?0,20]
//! slot1 (snapshot): %w [20]
//! %x: feed
//! %w: @w
//! %update: in place in @w
//! %c: const0
//! %f64: host f64
//! ```

use super::{var_bufs, BufferPlan, Place, Slot, SlotId};
use crate::schedule::{BufId, BufKind, Schedule};
use kiln_ir::Dim;
use std::collections::HashMap;
use std::fmt::Write;

impl BufferPlan {
    /// The plan as text (see the module docs).
    pub fn print(&self, s: &Schedule) -> String {
        let name = |i: usize| format!("%{}", s.module.op(s.buffers[i].value).name);
        let shape = |i: usize| {
            let dims: Vec<String> = s.buffers[i].shape.dims().iter().map(Dim::to_string).collect();
            format!("[{}]", dims.join(","))
        };
        let mut out = String::new();
        for (k, slot) in self.slots.iter().enumerate() {
            let members: Vec<String> =
                slot.members.iter().map(|&b| format!("{} {}", name(b.index()), shape(b.index()))).collect();
            let snap = if self.snapshots.iter().any(|x| x.1.index() == k) { " (snapshot)" } else { "" };
            let _ = writeln!(out, "slot{k}{snap}: {}", members.join(", "));
        }
        for (i, p) in self.places.iter().enumerate() {
            let what = match p {
                Place::Slot(_) => continue,
                Place::Var(v) if s.buffers[i].kind == BufKind::Temp => {
                    format!("in place in @{}", s.module.var(*v).name)
                }
                Place::Var(v) => format!("@{}", s.module.var(*v).name),
                Place::Const(c) => format!("const{c}"),
                Place::Feed => "feed".to_string(),
                Place::Host => format!("host {}", s.buffers[i].dtype),
            };
            let _ = writeln!(out, "{}: {what}", name(i));
        }
        out
    }
}

/// Reads the text [`BufferPlan::print`] writes for schedule `s`. Buffers are named by
/// their values; a member's shape must be its buffer's.
pub fn parse(text: &str, s: &Schedule) -> Result<BufferPlan, String> {
    let by_name: HashMap<String, BufId> = s
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("%{}", s.module.op(b.value).name), BufId(i as u32)))
        .collect();
    let var_by_name: HashMap<String, kiln_ir::VarId> =
        s.module.vars.iter().enumerate().map(|(i, v)| (format!("@{}", v.name), kiln_ir::VarId(i as u32))).collect();
    let mut places: Vec<Option<Place>> = vec![None; s.buffers.len()];
    let mut slots = Vec::new();
    let mut snapshots = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let err = |m: String| format!("buffer plan line {}: {m}", n + 1);
        let (head, rest) =
            line.split_once(": ").ok_or_else(|| err(format!("expected 'name: place', found '{line}'")))?;
        if let Some(slot) = head.strip_prefix("slot") {
            let (num, snapshot) = match slot.strip_suffix(" (snapshot)") {
                Some(k) => (k, true),
                None => (slot, false),
            };
            if num.parse::<usize>().ok() != Some(slots.len()) {
                return Err(err(format!("expected slot{}, found {head}", slots.len())));
            }
            let k = SlotId(slots.len() as u32);
            let mut members = Vec::new();
            for m in rest.split(", ") {
                let (name, _shape) =
                    m.split_once(' ').ok_or_else(|| err(format!("expected '%name [dims]', found '{m}'")))?;
                let b = *by_name.get(name).ok_or_else(|| err(format!("no buffer {name}")))?;
                members.push(b);
                if snapshot {
                    snapshots.push((b, k));
                } else {
                    places[b.index()] = Some(Place::Slot(k));
                }
            }
            slots.push(Slot { members });
            continue;
        }
        let b = *by_name.get(head).ok_or_else(|| err(format!("no buffer {head}")))?;
        let var = |name: &str| var_by_name.get(name).copied().ok_or_else(|| err(format!("no variable {name}")));
        let place = if rest == "feed" {
            Place::Feed
        } else if rest.starts_with("host ") {
            Place::Host
        } else if let Some(v) = rest.strip_prefix("in place in ") {
            Place::Var(var(v)?)
        } else if rest.starts_with('@') {
            Place::Var(var(rest)?)
        } else if let Some(c) = rest.strip_prefix("const") {
            Place::Const(c.parse().map_err(|_| err(format!("bad constant '{rest}'")))?)
        } else {
            return Err(err(format!("unknown place '{rest}'")));
        };
        places[b.index()] = Some(place);
    }
    let places: Vec<Place> = places
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| format!("buffer %{} has no place", s.module.op(s.buffers[i].value).name)))
        .collect::<Result<_, _>>()?;
    let var_bufs = var_bufs(&places);
    Ok(BufferPlan { places, slots, snapshots, var_bufs })
}
