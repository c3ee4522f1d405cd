//! kiln's code generator. Empty for now: the Cranelift JIT arrives with its own issue.
