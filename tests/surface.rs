//! The TF1 surface table (`kiln::surface`): one entry per name, and every op of the
//! IR's tables is in it under its TF function name, so a new op cannot miss it.

use std::collections::HashSet;

#[test]
fn every_name_is_listed_once() {
    let mut seen = HashSet::new();
    for (name, item) in kiln::surface::TF1_FUNCTIONS {
        assert!(seen.insert(*name), "{name} is listed twice");
        assert!(!item.is_empty(), "{name} names no Rust item");
    }
}

#[test]
fn every_table_op_is_in_the_surface() {
    let names: HashSet<&str> = kiln::surface::TF1_FUNCTIONS.iter().map(|(n, _)| *n).collect();
    let ir = kiln::ir::UNARY_OPS
        .iter()
        .map(|u| u.tf_function())
        .chain(kiln::ir::BINARY_OPS.iter().map(|b| b.tf_function()))
        .chain(kiln::ir::CMP_OPS.iter().map(|c| c.tf_function()))
        .chain(kiln::ir::REDUCE_OPS.iter().map(|r| r.tf_function()));
    for f in ir {
        assert!(names.contains(f), "op table function {f} is not in kiln::surface");
    }
}
