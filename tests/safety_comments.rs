//! Every `unsafe` block and impl in the crates says why it is sound in a `SAFETY:`
//! comment just above it (or on its line), and every `unsafe fn` documents its
//! contract under `# Safety`. `docs/safety.md` gives the argument as a whole.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_unsafe_says_why() {
    let mut files = Vec::new();
    for d in
        ["ir/src", "frontend/src", "passes/src", "codegen/src", "runtime/src", "src", "tests", "benches", "examples"]
    {
        rust_files(Path::new(d), &mut files);
    }
    let mut missing = Vec::new();
    let mut blocks = 0;
    for f in &files {
        if f.ends_with("safety_comments.rs") {
            continue; // this file's patterns are strings
        }
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let code = l.split("//").next().unwrap_or("");
            let is_fn = code.contains("unsafe fn") || code.contains("unsafe extern \"C\" fn");
            let is_block = code.contains("unsafe {") || code.contains("unsafe impl") || code.ends_with("unsafe");
            if !is_fn && !is_block {
                continue;
            }
            let above = &lines[i.saturating_sub(8)..i];
            // a trait method's contract is the trait's (GlobalAlloc's, here)
            let in_trait_impl = || {
                lines[..i]
                    .iter()
                    .rev()
                    .find(|a| !a.starts_with(' ') && !a.is_empty() && !a.starts_with('}'))
                    .is_some_and(|a| (a.starts_with("impl") || a.starts_with("unsafe impl")) && a.contains(" for "))
            };
            let ok = if is_fn && !code.contains("unsafe {") {
                // a declaration: its docs carry the contract (a fn pointer type is a
                // type, not code)
                above.iter().any(|a| a.contains("# Safety"))
                    || code.contains("type ")
                    || code.contains("extern \"C\" fn(")
                    || in_trait_impl()
            } else {
                l.contains("SAFETY") || above.iter().rev().take(5).any(|a| a.contains("SAFETY"))
            };
            blocks += 1;
            if !ok {
                missing.push(format!("{}:{}: {}", f.display(), i + 1, l.trim()));
            }
        }
    }
    assert!(blocks > 20, "found only {blocks} unsafe sites: is the scan looking in the right places?");
    assert!(missing.is_empty(), "unsafe without a SAFETY comment:\n{}", missing.join("\n"));
}
