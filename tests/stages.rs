//! The stages below the IR are tested text in, text out, as the IR is: for every
//! committed model (fused and not), the schedule, the ABI and the buffer plan print,
//! parse back to the same value and print the same text, and verify against their
//! schedule; a schedule, ABI or plan edited to disagree is refused with a reason.

use kiln::ir;
use kiln::passes::{abi, buffer_plan, fusion::FusionOptions, pipeline, schedule};

/// Every committed model lowered with fusion on and off: (name, program).
fn lowered() -> Vec<(String, kiln::passes::stage::Program)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("examples/models").unwrap() {
        let path = entry.unwrap().path();
        let m = ir::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // fetch every op nothing else uses
        let used: std::collections::HashSet<_> = m.values().flat_map(|v| m.op(v).operands.clone()).collect();
        let roots: Vec<_> = m.values().filter(|v| !used.contains(v)).collect();
        for fuse in [true, false] {
            let opts = pipeline::PipelineOptions { verify: true, ..Default::default() };
            let l = pipeline::lower(&m, &roots, &opts, &FusionOptions { fuse }, Default::default()).unwrap();
            out.push((format!("{} fuse={fuse}", path.display()), l.program));
        }
    }
    out
}

#[test]
fn schedule_abi_and_plan_text_round_trips_on_every_model() {
    for (name, p) in lowered() {
        let (s, a, plan) = (p.schedule.unwrap(), p.abi.unwrap(), p.plan.unwrap());
        let text = s.print();
        let parsed = schedule::parse(&text, s.module.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(parsed, s, "{name}: the schedule parses to itself");
        assert_eq!(parsed.print(), text, "{name}: and prints the same text");
        schedule::verify(&parsed).unwrap();
        let text = a.print(&s);
        let (names, parsed) = abi::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(parsed, a, "{name}: the ABI parses to itself");
        assert_eq!(parsed.print_named(&names), text, "{name}: and prints the same text");
        abi::verify(&s, &parsed).unwrap();
        let text = plan.print(&s);
        let parsed = buffer_plan::parse(&text, &s).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(parsed, plan, "{name}: the plan parses to itself");
        assert_eq!(parsed.print(&s), text, "{name}: and prints the same text");
        buffer_plan::verify(&s, &parsed).unwrap();
    }
}

#[test]
fn an_abi_that_disagrees_with_its_schedule_is_refused() {
    let (_, p) = lowered().into_iter().find(|(n, _)| n.contains("sine_train") && n.ends_with("fuse=true")).unwrap();
    let (s, a) = (p.schedule.unwrap(), p.abi.unwrap());
    let text = a.print(&s);
    // an f32 pointer declared 64 bits wide: the bug a split once made by convention
    let wide = text.replacen(" w32", " w64", 1);
    let (_, parsed) = abi::parse(&wide).unwrap();
    let e = abi::verify(&s, &parsed).unwrap_err().to_string();
    assert!(e.contains("addressed as Some(W64)"), "{e}");
    // a call with one slot fewer than its schedule implies
    let short: String = {
        let mut lines: Vec<&str> = text.lines().collect();
        let last_slot = lines.iter().rposition(|l| l.trim_start().starts_with("slot")).unwrap();
        lines.remove(last_slot);
        lines.join("\n") + "\n"
    };
    let (_, parsed) = abi::parse(&short).unwrap();
    assert!(abi::verify(&s, &parsed).is_err());
    // malformed text names its line
    let e = abi::parse("abi {\n  fusion.0: loop\n    slot1 extent nest0 dim0\n}\n").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn a_plan_that_shares_a_slot_between_live_buffers_is_refused() {
    let (_, p) = lowered().into_iter().find(|(n, _)| n.contains("sine_train") && n.ends_with("fuse=true")).unwrap();
    let (s, plan) = (p.schedule.unwrap(), p.plan.unwrap());
    // every arena buffer moved into slot 0: some of them are alive at once
    let mut bad = plan.clone();
    let all: Vec<_> = bad.slots.iter().flat_map(|sl| sl.members.clone()).collect();
    for sl in &mut bad.slots {
        sl.members.clear();
    }
    for &b in &all {
        bad.places[b.index()] = buffer_plan::Place::Slot(buffer_plan::SlotId(0));
    }
    bad.slots[0].members = all;
    bad.snapshots.clear();
    let e = buffer_plan::verify(&s, &bad).unwrap_err();
    assert!(e.contains("alive at once"), "{e}");
}
