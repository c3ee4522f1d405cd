//! Checks a [`BufferPlan`] against its schedule: every buffer placed where its kind
//! allows, each arena buffer in exactly the slot its place names, snapshot slots holding
//! one fetched buffer, and no two members of a slot alive at once.

use super::{liveness, BufferPlan, Place};
use crate::schedule::{BufKind, Schedule};
use std::collections::HashMap;

/// Verifies `p` against `s`; the error names the buffer or slot.
pub fn verify(s: &Schedule, p: &BufferPlan) -> Result<(), String> {
    let name = |i: usize| format!("%{}", s.module.op(s.buffers[i].value).name);
    if p.places.len() != s.buffers.len() {
        return Err(format!("{} places for {} buffers", p.places.len(), s.buffers.len()));
    }
    let mut slot_of = vec![None; s.buffers.len()];
    let snapshot_slots: Vec<usize> = p.snapshots.iter().map(|x| x.1.index()).collect();
    for (k, slot) in p.slots.iter().enumerate() {
        if snapshot_slots.contains(&k) {
            if slot.members.len() != 1 {
                return Err(format!("snapshot slot{k} holds {} buffers", slot.members.len()));
            }
            continue;
        }
        for b in &slot.members {
            let i = b.index();
            if i >= s.buffers.len() || slot_of[i].replace(k).is_some() {
                return Err(format!("buffer b{i} is in two slots, or does not exist"));
            }
            if p.places[i] != Place::Slot(super::SlotId(k as u32)) {
                return Err(format!("{} is a member of slot{k} but placed at {:?}", name(i), p.places[i]));
            }
        }
    }
    for (i, place) in p.places.iter().enumerate() {
        let kind = &s.buffers[i].kind;
        let ok = match place {
            Place::Slot(k) => slot_of[i] == Some(k.index()),
            Place::Var(_) => matches!(kind, BufKind::Var(_) | BufKind::Temp),
            Place::Const(_) => matches!(kind, BufKind::Const(_)),
            Place::Feed => matches!(kind, BufKind::Feed),
            Place::Host => true,
        };
        if !ok {
            return Err(format!("{} ({kind:?}) cannot live at {place:?}", name(i)));
        }
    }
    // members of a slot never overlap in time
    let index: HashMap<_, _> = s.buffers.iter().enumerate().map(|(i, b)| (b.value, i)).collect();
    let (first, last) = liveness(s, &index);
    for (k, slot) in p.slots.iter().enumerate() {
        let mut spans: Vec<(usize, usize, usize)> =
            slot.members.iter().map(|b| (first[b.index()], last[b.index()], b.index())).collect();
        spans.sort();
        for w in spans.windows(2) {
            if w[1].0 <= w[0].1 {
                return Err(format!("slot{k}: {} and {} are alive at once", name(w[0].2), name(w[1].2)));
            }
        }
    }
    Ok(())
}
