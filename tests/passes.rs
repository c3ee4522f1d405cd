//! The optimization passes, text in and text out: each case states the IR before and
//! the IR the pipeline must produce.

use kiln::ir;
use kiln_passes::pipeline::{optimize, PipelineOptions};

fn run(text: &str, roots: &[&str]) -> String {
    let m = ir::parse(text).unwrap();
    let roots: Vec<_> = roots.iter().map(|r| m.value_by_name(r).unwrap()).collect();
    let opt = optimize(&m, &roots, &PipelineOptions { verify: true, ..Default::default() }).unwrap();
    ir::print(&opt.module)
}

#[test]
fn identities_and_folding() {
    let out = run(
        "module {
  %x = parameter : f32[4]
  %one = constant [1.0] : f32[]
  %ones = broadcast %one {dims=[]} : f32[4]
  %zero = constant [0.0] : f32[]
  %zeros = broadcast %zero {dims=[]} : f32[4]
  %a = mul %x, %ones : f32[4]
  %b = add %zeros, %a : f32[4]
  %c = neg %b : f32[4]
  %d = neg %c : f32[4]
  %t = transpose %d {perm=[0]} : f32[4]
  %two = constant [2.0] : f32[]
  %three = constant [3.0] : f32[]
  %six = mul %two, %three : f32[]
  %s = broadcast %six {dims=[]} : f32[4]
  %y = mul %t, %s : f32[4]
}
",
        &["y"],
    );
    assert_eq!(
        out,
        "module {
  %x = parameter : f32[4]
  %six = constant [6.0] : f32[]
  %s = broadcast %six {dims=[]} : f32[4]
  %y = mul %x, %s : f32[4]
}
"
    );
}

#[test]
fn cse_merges_equal_ops_and_dce_drops_the_rest() {
    let out = run(
        "module {
  %x = parameter : f32[4]
  %unused = parameter : f32[2]
  %a = exp %x : f32[4]
  %b = exp %x : f32[4]
  %c = add %a, %b : f32[4]
  %dead = sqrt %x : f32[4]
}
",
        &["c"],
    );
    assert_eq!(
        out,
        "module {
  %x = parameter : f32[4]
  %a = exp %x : f32[4]
  %c = add %a, %a : f32[4]
}
"
    );
}

#[test]
fn side_effects_are_kept() {
    let text = "module {
  var @v : f32[2]
  %r = read @v : f32[2]
  %c1 = constant [1.0, 2.0] : f32[2]
  %c2 = constant [1.0, 2.0] : f32[2]
  %a1 = assign @v, %c1 : ()
  %a2 = assign @v, %c2 : ()
  %g = group %a1, %a2 : ()
}
";
    let out = run(text, &["g"]);
    // the two constants merge; both assigns stay, in order
    assert_eq!(
        out,
        "module {
  var @v : f32[2]
  %c1 = constant [1.0, 2.0] : f32[2]
  %a1 = assign @v, %c1 : ()
  %a2 = assign @v, %c1 : ()
  %g = group %a1, %a2 : ()
}
"
    );
}

#[test]
fn dumps_after_every_pass() {
    let dir = std::path::PathBuf::from("target/kiln-test/dumps");
    let _ = std::fs::remove_dir_all(&dir);
    let m =
        ir::parse("module {\n  %x = parameter : f32[4]\n  %y = neg %x : f32[4]\n  %z = neg %y : f32[4]\n}\n").unwrap();
    let opts = PipelineOptions { verify: true, dump_dir: Some(dir.clone()), ..Default::default() };
    let opt = optimize(&m, &[m.value_by_name("z").unwrap()], &opts).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0000.input.ir",
            "0001.expand_argmax.ir",
            "0002.simplify.ir",
            "0003.cse.ir",
            "0004.dce.ir",
            "0005.simplify.ir",
            "0006.split_masks.ir",
            "0007.dce.ir",
        ]
    );
    // every dump parses back
    for n in &names {
        ir::parse(&std::fs::read_to_string(dir.join(n)).unwrap()).unwrap();
    }
    assert_eq!(
        opt.records.iter().map(|r| r.name).collect::<Vec<_>>(),
        ["expand_argmax", "simplify", "cse", "dce", "simplify", "split_masks", "dce"]
    );
    assert_eq!(opt.module.ops.len(), 1, "neg(neg(x)) is x");
}

#[test]
fn shared_masks_are_split_per_consumer() {
    // CSE merges the two comparisons; split_masks gives the second select its own copy,
    // inserted just before it, so no kernel has to store a boolean mask
    let out = run(
        "module {
  %x = parameter : f32[4]
  %y = parameter : f32[4]
  %z = constant [0.0] : f32[]
  %zs = broadcast %z {dims=[]} : f32[4]
  %m1 = gt %x, %zs : bool[4]
  %a = select %m1, %y, %zs : f32[4]
  %s = reduce_sum %a {axes=[0], keepdims=false} : f32[]
  %sb = broadcast %s {dims=[]} : f32[4]
  %m2 = gt %x, %zs : bool[4]
  %b = select %m2, %sb, %zs : f32[4]
}
",
        &["b"],
    );
    assert_eq!(
        out,
        "module {
  %x = parameter : f32[4]
  %y = parameter : f32[4]
  %z = constant [0.0] : f32[]
  %zs = broadcast %z {dims=[]} : f32[4]
  %m1 = gt %x, %zs : bool[4]
  %a = select %m1, %y, %zs : f32[4]
  %s = reduce_sum %a {axes=[0], keepdims=false} : f32[]
  %sb = broadcast %s {dims=[]} : f32[4]
  %m1/copy_1 = gt %x, %zs : bool[4]
  %b = select %m1/copy_1, %sb, %zs : f32[4]
}
"
    );
}

#[test]
fn argmax_expands_into_reductions_that_keep_its_name() {
    let text = "module {
  %x = parameter : f32[?0,3]
  %a = argmax %x {axis=1} : i64[?0]
}
";
    let m = ir::parse(text).unwrap();
    let mut out = m.clone();
    let mut roots = vec![m.value_by_name("a").unwrap()];
    kiln_passes::expand_argmax::run(&mut out, &mut roots).unwrap().expect("changed");
    ir::verify(&out).unwrap();
    insta::assert_snapshot!("argmax_expanded", ir::print(&out));
    assert_eq!(out.op(roots[0]).name, "a");
}
