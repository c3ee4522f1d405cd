//! Verifier invariants the text parser cannot express (it resolves names in order).

use kiln_ir::*;

fn param(name: &str, shape: &[usize]) -> Op {
    Op {
        kind: OpKind::Parameter,
        operands: vec![],
        ty: Some(Type::new(DType::F32, Shape::fixed(shape))),
        name: name.into(),
        loc: None,
    }
}

#[test]
fn use_before_definition() {
    let mut m = Module::new();
    m.push(Op {
        kind: OpKind::Unary(UnaryOp::Neg),
        operands: vec![ValueId(1)],
        ty: Some(Type::new(DType::F32, Shape::fixed(&[2]))),
        name: "n".into(),
        loc: None,
    });
    m.push(param("x", &[2]));
    let e = verify(&m).unwrap_err();
    assert_eq!(e.to_string(), "verifier: %n: uses %x before its definition");
}

#[test]
fn duplicate_names_and_bad_names() {
    let mut m = Module::new();
    m.push(param("x", &[2]));
    m.push(param("x", &[2]));
    assert_eq!(verify(&m).unwrap_err().to_string(), "verifier: %x: value name defined twice");
    let mut m = Module::new();
    m.push(param("a b", &[2]));
    assert_eq!(verify(&m).unwrap_err().to_string(), "verifier: %a b: invalid value name");
}

#[test]
fn operand_counts() {
    let mut m = Module::new();
    let x = m.push(param("x", &[2]));
    m.push(Op {
        kind: OpKind::Binary(BinaryOp::Add),
        operands: vec![x],
        ty: Some(Type::new(DType::F32, Shape::fixed(&[2]))),
        name: "a".into(),
        loc: Some(Loc { file: "m.rs".into(), line: 3, col: 1 }),
    });
    assert_eq!(verify(&m).unwrap_err().to_string(), "m.rs:3:1: verifier: %a: add: expects 2 operand(s), got 1");
}

#[test]
fn a_value_less_op_is_not_an_operand() {
    let text = "module {\n  %x = parameter : f32[2]\n  %g = group %x : ()\n  %n = neg %g : f32[2]\n}\n";
    let e = parse(text).unwrap_err().to_string();
    assert!(e.ends_with("verifier: %n: neg: operand 0 (%g) has no value"), "{e}");
}

#[test]
fn symbolic_reshape_counts() {
    let ok = "module {\n  %x = parameter : f32[?0,1]\n  %y = reshape %x : f32[?0]\n}\n";
    assert!(parse(ok).is_ok());
    let bad = "module {\n  %x = parameter : f32[?0,2]\n  %y = reshape %x : f32[?0]\n}\n";
    assert!(parse(bad).unwrap_err().to_string().contains("element counts differ"));
}
