//! kiln's IR passes. Empty for now: autodiff and optimizer lowering arrive with the
//! training issue, simplification, fusion and buffer planning with the JIT issue.
