//! Graphs to and from IR text files (`.kir`), name lookup, and DOT export: how a graph
//! built in a program reaches the `kiln` CLI and back.

use crate::error::{Error, Result};
use crate::graph::{Graph, Inner, VarInfo};
use crate::tensor::Tensor;
use kiln_ir::{Dim, Loc, Module, OpKind};
use std::path::Path;

impl Graph {
    /// A graph holding a parsed (and verified) module. Every variable needs the
    /// `read` op and the initializer `assign` the builder makes; the first of each is
    /// taken. New ops added to the graph get names unique against the module's.
    #[track_caller]
    pub fn from_module(module: Module) -> Result<Graph> {
        let loc = Loc::caller();
        let bad = |message: String| Error::IrText { source_name: "<module>".into(), message, loc: loc.clone() };
        kiln_ir::verify(&module).map_err(|e| bad(e.to_string()))?;
        let mut vars = Vec::with_capacity(module.vars.len());
        for (i, var) in module.vars.iter().enumerate() {
            let find =
                |want: fn(&OpKind) -> Option<usize>| module.values().find(|&v| want(&module.op(v).kind) == Some(i));
            let read = find(|k| if let OpKind::Read(x) = k { Some(x.index()) } else { None });
            let init = find(|k| if let OpKind::Assign(x) = k { Some(x.index()) } else { None });
            match (read, init) {
                (Some(read), Some(init)) => vars.push(VarInfo { var: kiln_ir::VarId(i as u32), read, init }),
                (None, _) => return Err(bad(format!("variable @{} is never read", var.name))),
                (_, None) => return Err(bad(format!("variable @{} has no initializer (assign)", var.name))),
            }
        }
        let g = Graph::new();
        {
            let mut inner = g.lock();
            let Inner { classes, next_sym, random_ops, .. } = &mut *inner;
            *classes = module.dim_classes();
            // fresh symbols must not collide with the module's `?N`
            let syms = module.ops.iter().filter_map(|o| o.ty.as_ref()).flat_map(|t| t.shape.dims().to_vec());
            let syms = syms.chain(module.vars.iter().flat_map(|v| v.ty.shape.dims().to_vec()));
            *next_sym = syms
                .filter_map(|d| match d {
                    Dim::Sym(s) => s.strip_prefix('?').and_then(|n| n.parse::<usize>().ok()),
                    Dim::Fixed(_) => None,
                })
                .map(|n| n + 1)
                .max()
                .unwrap_or(0);
            *random_ops = module.ops.iter().filter(|o| matches!(o.kind, OpKind::Random { .. })).count() as u64;
            for name in module.ops.iter().map(|o| &o.name).chain(module.vars.iter().map(|v| &v.name)) {
                inner.reserve_name(name);
            }
            inner.vars = vars;
            inner.module = std::sync::Arc::new(module);
        }
        Ok(g)
    }

    /// Parses IR text (see `docs/ir.md`) into a graph.
    #[track_caller]
    pub fn parse_ir(text: &str) -> Result<Graph> {
        let loc = Loc::caller();
        let m = kiln_ir::parse(text).map_err(|e| Error::IrText {
            source_name: "<text>".into(),
            message: e.to_string(),
            loc: loc.clone(),
        })?;
        Graph::from_module(m).map_err(|e| with_loc(e, loc))
    }

    /// Reads a `.kir` file written by [`Graph::save_ir`] or by hand.
    #[track_caller]
    pub fn load_ir(path: impl AsRef<Path>) -> Result<Graph> {
        let loc = Loc::caller();
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: name.clone(),
            message: e.to_string(),
            loc: loc.clone(),
        })?;
        let m = kiln_ir::parse(&text).map_err(|e| Error::IrText {
            source_name: name.clone(),
            message: e.to_string(),
            loc: loc.clone(),
        })?;
        Graph::from_module(m).map_err(|e| match e {
            Error::IrText { message, .. } => Error::IrText { source_name: name, message, loc },
            e => e,
        })
    }

    /// Writes [`Graph::to_ir_text`] to `path`: a temporary file renamed into place, so
    /// a reader never sees half a module.
    #[track_caller]
    pub fn save_ir(&self, path: impl AsRef<Path>) -> Result<()> {
        let loc = Loc::caller();
        let path = path.as_ref();
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
            loc: loc.clone(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.to_ir_text()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The tensor an op of this name produces (TF `get_tensor_by_name`; `name:0` is
    /// accepted too). Result-less ops (a train op, `init`) are found as well.
    #[track_caller]
    pub fn get_tensor_by_name(&self, name: &str) -> Result<Tensor> {
        let loc = Loc::caller();
        let bare = name.strip_suffix(":0").unwrap_or(name);
        let v = self.module().value_by_name(bare);
        v.map(|v| self.tensor(v)).ok_or(Error::UnknownName { name: name.to_string(), loc })
    }

    /// The graph in Graphviz DOT: one node per op with its name, op and type, one edge
    /// per operand (feeds yellow, variables grey).
    pub fn to_dot(&self) -> String {
        kiln_ir::dot::to_dot(&self.module(), "graph", &[])
    }
}

fn with_loc(e: Error, loc: Loc) -> Error {
    match e {
        Error::IrText { source_name, message, .. } => Error::IrText { source_name, message, loc },
        e => e,
    }
}
