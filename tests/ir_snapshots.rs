//! Snapshots of the lowered IR of every notebook graph, and the round trip
//! `print(parse(text)) == text` over every IR snapshot on disk.

mod common;

use kiln::ir;

#[test]
fn notebook_graphs_ir() {
    for (name, cell) in common::all_cells() {
        let text = cell.graph.to_ir_text();
        ir::verify(&cell.graph.module()).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(name, text);
    }
}

/// The IR body of an insta snapshot file (after its `---` header).
fn snapshot_body(file: &str) -> Option<String> {
    let rest = file.strip_prefix("---\n")?;
    let (_, body) = rest.split_once("\n---\n")?;
    Some(body.to_string())
}

#[test]
fn every_ir_snapshot_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(body) = std::fs::read_to_string(&path).ok().and_then(|f| snapshot_body(&f)) else { continue };
        if !body.starts_with("module {") {
            continue;
        }
        let m = ir::parse(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(ir::print(&m).trim_end(), body.trim_end(), "{}", path.display());
        // and printing is a fixed point: parse(print(m)) == m
        assert_eq!(ir::parse(&ir::print(&m)).unwrap(), m);
        checked += 1;
    }
    assert!(checked >= 12, "expected the notebook snapshots, found {checked}");
}

#[test]
fn round_trip_of_every_op_kind() {
    let text = r#"module {
  constraint ?1 = ?0
  var @w : f32[2,3] trainable loc("model.rs":1:1)
  var @step : i64[]
  %x = parameter : f32[?0,3] loc("model.rs":2:5)
  %y = parameter : f32[?1,3]
  %k = constant [1, 2, 3] : i32[3]
  %b = constant [true, false] : bool[2]
  %d = constant [0.5, -1e-8, NaN, inf, -inf] : f64[5]
  %w = read @w : f32[2,3]
  %r1 = random_uniform {seed=1, min=-0.5, max=0.5} : f32[2,3]
  %r2 = random_normal {seed=2, mean=0.0, stddev=1.0} : f32[4]
  %r3 = truncated_normal {seed=3, mean=0.0, stddev=0.1} : f64[4]
  %n = neg %x : f32[?0,3]
  %e = exp %n : f32[?0,3]
  %s = add %x, %y : f32[?0,3]
  %p = pow %e, %s : f32[?0,3]
  %lt = lt %x, %y : bool[?0,3]
  %sel = select %lt, %x, %y : f32[?0,3]
  %bc = broadcast %k {dims=[1]} : i32[4,3]
  %rs = reshape %bc : i32[2,6]
  %tr = transpose %rs {perm=[1, 0]} : i32[6,2]
  %sl = slice %tr {begin=[1, 0]} : i32[3,2]
  %cc = concat %sl, %sl {axis=0} : i32[6,2]
  %sum = reduce_sum %sel {axes=[1], keepdims=true} : f32[?0,1]
  %mean = reduce_mean %sel {axes=[0, 1], keepdims=false} : f32[]
  %wt = transpose %w {perm=[1, 0]} : f32[3,2]
  %mm = matmul %x, %wt : f32[?0,2]
  %cv = convert %k : f32[3]
  %sg = stop_gradient %sel : f32[?0,3]
  %n0 = dim_size %sg {axes=[0]} : f32[]
  %io = iota {axis=1} : i64[?0,4]
  %am = argmax %x {axis=1} : i64[?0]
  %ci = check_index %am {bound=3} : i64[?0]
  %ga = gather %w, %ci : f32[?0,3]
  %sa = scatter_add %ci, %ga : f32[2,3]
  %cs = cumsum %sel {axis=0, exclusive=false, reverse=true} : f32[?0,3]
  %pr = reduce_prod %cs {axes=[1], keepdims=false} : f32[?0]
  %asg = assign @w, %r1 : ()
  %grp = group %asg, %mean : ()
}
"#;
    let m = ir::parse(text).unwrap();
    let printed = ir::print(&m);
    // the printer only realigns the location column
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squash(&printed), squash(text));
    assert_eq!(ir::print(&ir::parse(&printed).unwrap()), printed);
}
