//! The session's executable cache: one compiled executable per fetch set, kept while
//! what it depends on is unchanged, bounded and evicted least recently used.
//!
//! A graph only grows: an op, once built, never changes (the module is append-only),
//! so the ops reachable from a fetch set are fixed when the fetch set is first run.
//! The only later change that can reach them is a new equality between symbolic dims
//! (a broadcast built later may constrain `?0 = ?1`): an entry records how the symbols
//! its ops use are grouped, and is recompiled only when a new constraint regroups them.
//! Building unrelated ops therefore never recompiles anything, and checking costs
//! nothing unless constraints were added.

use crate::exec::Executable;
use kiln_ir::{Dim, DimClasses, Module, OpKind, ValueId};
use std::collections::{HashMap, HashSet};

/// The default number of executables a session keeps ([`crate::SessionOptions::max_executables`]).
pub const DEFAULT_MAX_EXECUTABLES: usize = 64;

/// Why an executable was compiled (logged under `KILN_LOG_COMPILES=1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileReason {
    /// The fetch set was never run before.
    NewFetchSet,
    /// A dim constraint added since the last compile regroups the symbols the fetch
    /// set's ops use.
    ChangedDependency(String),
    /// The fetch set was compiled before and evicted from the bounded cache.
    Evicted,
}

impl std::fmt::Display for CompileReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileReason::NewFetchSet => f.write_str("new fetch set"),
            CompileReason::ChangedDependency(why) => write!(f, "changed dependency: {why}"),
            CompileReason::Evicted => f.write_str("evicted earlier"),
        }
    }
}

/// Counters a session keeps about its executables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Executables built (JIT compiles, and fetch sets the JIT refused).
    pub compiles: usize,
    /// Runs that found their executable in the cache.
    pub hits: usize,
    /// Executables dropped to keep the cache within its bound.
    pub evictions: usize,
    /// Bindings made: runs at a feed-shape signature their executable had not bound
    /// (or had evicted). A binding plans buffers; it never compiles.
    pub binds: usize,
}

/// A fetch set compiled for the JIT, or the reason it runs on the interpreter.
pub(crate) enum Compiled {
    Jit(Box<Executable>),
    Interp(String),
}

/// What a fetch set needs from a run, found in one walk when it is first run.
pub(crate) struct Needs {
    /// The placeholders and variable reads reachable from the fetches, in op order.
    pub(crate) inputs: Vec<ValueId>,
    /// The symbols in the types of the reachable ops.
    syms: Vec<Dim>,
    /// How `syms` were grouped by the constraints, and `constraints` at the time.
    grouping: Vec<(usize, Option<u64>)>,
    constraints: usize,
}

impl Needs {
    pub(crate) fn of(m: &Module, fetches: &[ValueId]) -> Needs {
        let need = crate::interp::reachable(m, fetches);
        let mut inputs = Vec::new();
        let mut syms = HashSet::new();
        for v in m.values().filter(|v| need[v.index()]) {
            let op = m.op(v);
            if matches!(op.kind, OpKind::Parameter | OpKind::Read(_)) {
                inputs.push(v);
            }
            if let Some(t) = &op.ty {
                syms.extend(t.shape.dims().iter().filter(|d| d.is_sym()).cloned());
            }
        }
        let mut syms: Vec<Dim> = syms.into_iter().collect();
        syms.sort();
        let grouping = grouping(&syms, &m.dim_classes());
        Needs { inputs, syms, grouping, constraints: m.constraints.len() }
    }

    /// Whether constraints added since this was computed change how the ops' symbols
    /// are grouped (the reason, if so). Free when no constraint was added.
    fn changed(&mut self, m: &Module) -> Option<String> {
        if m.constraints.len() == self.constraints {
            return None;
        }
        let now = grouping(&self.syms, &m.dim_classes());
        if now != self.grouping {
            let added: Vec<String> =
                m.constraints[self.constraints..].iter().map(|(a, b)| format!("{a} = {b}")).collect();
            return Some(format!("constraint {}", added.join(", ")));
        }
        self.constraints = m.constraints.len();
        None
    }
}

/// For each symbol: the first symbol in its class, and the class's fixed size if any.
fn grouping(syms: &[Dim], classes: &DimClasses) -> Vec<(usize, Option<u64>)> {
    let canon: Vec<Dim> = syms.iter().map(|s| classes.canon(s)).collect();
    canon.iter().map(|c| (canon.iter().position(|x| x == c).unwrap_or(0), c.fixed())).collect()
}

pub(crate) struct Entry {
    pub(crate) compiled: Compiled,
    pub(crate) needs: Needs,
    last_used: u64,
}

/// Executables by fetch set, LRU-bounded.
pub(crate) struct Cache {
    entries: HashMap<Vec<ValueId>, Entry>,
    capacity: usize,
    tick: u64,
    /// Fetch sets evicted, to name the reason when one comes back (bounded too).
    evicted: HashSet<Vec<ValueId>>,
    pub(crate) stats: CompileStats,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
            evicted: HashSet::new(),
            stats: CompileStats::default(),
        }
    }

    /// `Ok` if `fetches` has a cached entry that is still valid (it becomes the most
    /// recently used); otherwise why one must be built (a stale entry is dropped).
    pub(crate) fn lookup(&mut self, m: &Module, fetches: &[ValueId]) -> Result<(), CompileReason> {
        self.tick += 1;
        let why = match self.entries.get_mut(fetches) {
            None if self.evicted.contains(fetches) => CompileReason::Evicted,
            None => CompileReason::NewFetchSet,
            Some(e) => match e.needs.changed(m) {
                Some(why) => CompileReason::ChangedDependency(why),
                None => {
                    e.last_used = self.tick;
                    self.stats.hits += 1;
                    return Ok(());
                }
            },
        };
        self.entries.remove(fetches);
        Err(why)
    }

    /// Caches a new entry, evicting the least recently used one past the bound.
    pub(crate) fn insert(&mut self, fetches: Vec<ValueId>, compiled: Compiled, needs: Needs) {
        self.stats.compiles += 1;
        if self.entries.len() >= self.capacity {
            if let Some(old) = self.entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone()) {
                self.entries.remove(&old);
                self.stats.evictions += 1;
                if self.evicted.len() >= 16 * self.capacity {
                    self.evicted.clear();
                }
                self.evicted.insert(old);
            }
        }
        self.evicted.remove(&fetches);
        self.entries.insert(fetches, Entry { compiled, needs, last_used: self.tick });
    }

    /// The cached entry for `fetches`.
    pub(crate) fn get_mut(&mut self, fetches: &[ValueId]) -> Option<&mut Entry> {
        self.entries.get_mut(fetches)
    }

    /// The cached entry for `fetches`, without touching its recency.
    pub(crate) fn peek(&self, fetches: &[ValueId]) -> Option<&Entry> {
        self.entries.get(fetches)
    }

    /// Executables cached now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
