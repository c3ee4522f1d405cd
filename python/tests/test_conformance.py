"""kiln against TF1's own numbers: every case of python/conformance/cases.py, built
through kiln.compat.v1 on both backends and in float32 and float64, compared with the
goldens TF1 wrote (python/conformance/generate.py; committed, so this needs no
TensorFlow).

Tolerances: float64 results must agree to 1e-9 (relative). A float32 result may differ
from TF1's by 4x the distance between TF1's own float32 and float64 results (how much
float32 rounding moves that output), plus 4 ulp of its magnitude. NaN and infinities
must be where TF1 has them. A case whose build or run fails must fail with TF1's class.

The differences kiln keeps on purpose are in KNOWN, each with its reason; the README
lists them. Such a key must still differ as stated (so a fix is noticed).
"""
import os
import re
import sys

import numpy as np
import pytest

import kiln.compat.v1 as tf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import cases  # noqa: E402

GOLD = np.load(os.path.join(HERE, "..", "conformance", "goldens", "tf1.npz"))
with open(os.path.join(HERE, "..", "conformance", "goldens", "tf1_errors.tsv")) as _f:
    # case|dtype -> TF1's message
    TF1_MESSAGES = {p[0]: p[2] for p in (line.rstrip("\n").split("\t") for line in _f) if len(p) == 3}

# error cases whose words TF 2.21's Python layer rewrote after TF1: kiln keeps TF1's
# (1.15's), so only the class is compared there
TF2_REWORDED = {"error/sparse_xent_rank", "error/sigmoid_xent_shapes"}


def wording(m):
    """A message with quoted names masked and TF's list of allowed dtypes cut off."""
    m = m.split(" not in list of allowed values")[0]
    return re.sub(r"'[^']*'", "'…'", m)


def build_message(name, dt):
    """kiln's message for an error case, raised by its build."""
    tf.reset_default_graph()
    try:
        cases.CASES[name](tf, getattr(tf, dt))
    except Exception as e:  # noqa: BLE001
        return str(e)
    return None

# (case, dtype, backend) -> why kiln differs from TF1 there (the README lists them). Every
# other output of such a case must still match; at least one must differ, so a fix
# is noticed and the entry dropped.
KNOWN = {
    ("edge/subnormals", "float32", "jit"): "log of a subnormal: TF1 (Eigen's plog) gives -103.97 for "
    "any subnormal; kiln's kernels read subnormals as 0 (DAZ, so -inf). The interpreter computes the "
    "true logarithm (-92.1 for 1e-40), within the case's tolerance (TF1's float32 and float64 differ "
    "by 12 there)",
}


def golden(name, dt):
    prefix = "%s|%s|" % (name, dt)
    return {k[len(prefix) :]: GOLD[k] for k in GOLD.files if k.startswith(prefix)}


def close(name, dt, key, got, want, want64):
    got = np.asarray(got, dtype=np.float64) if got.dtype.kind in "fc" else np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, "%s %s %s: shape %s, TF1 %s" % (name, dt, key, got.shape, want.shape)
    if want.dtype.kind not in "fc":
        return np.array_equal(got, want)
    want = want.astype(np.float64)
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return False
    inf = np.isinf(want)
    if not np.array_equal(got[inf], want[inf]):
        return False
    fin = np.isfinite(want)
    if not np.all(np.isfinite(got[fin])):
        return False
    g, w = got[fin], want[fin]
    if dt == "float64":
        tol = 1e-9 * np.maximum(1.0, np.abs(w))
    else:
        spread = 0.0
        if want64 is not None and want64.shape == want.shape:
            w64 = want64.astype(np.float64)[fin]
            spread = np.max(np.abs(w - w64)) if w.size else 0.0
        tol = 4 * spread + 4 * np.finfo(np.float32).eps * np.maximum(np.abs(w), 1e-30) + 1e-30
    return bool(np.all(np.abs(g - w) <= tol))


PARAMS = [(n, dt) for n in sorted(cases.CASES) for dt in ("float32", "float64")]


@pytest.mark.parametrize("backend", ["jit", "interp"])
@pytest.mark.parametrize("name,dt", PARAMS, ids=["%s-%s" % p for p in PARAMS])
def test_case_matches_tf1(name, dt, backend, monkeypatch):
    monkeypatch.setenv("KILN_BACKEND", backend)
    want = golden(name, dt)
    assert want, "no golden for %s %s: run python/conformance/generate.py" % (name, dt)
    got = cases.run(tf, name, dt)
    if "error" in want:
        assert "error" in got, "%s: TF1 raises %s, kiln computed %s" % (name, want["error"], sorted(got))
        assert str(got["error"]) == str(want["error"]), "%s: TF1 raises %s, kiln %s" % (name, want["error"], got["error"])
        theirs = TF1_MESSAGES.get("%s|%s" % (name, dt))
        if theirs and name not in TF2_REWORDED:
            ours = build_message(name, dt)
            assert wording(theirs) in wording(ours), "%s: TF1 says\n  %s\nkiln says\n  %s" % (name, theirs, ours)
            assert "cases.py:" in ours, "%s: %s names the user's file" % (name, ours)
        return
    assert "error" not in got, "%s %s: kiln raised %s" % (name, dt, got.get("error"))
    assert sorted(got) == sorted(want), "%s: keys %s vs TF1 %s" % (name, sorted(got), sorted(want))
    w64 = golden(name, "float64")
    bad = []
    for key in want:
        if not close(name, dt, key, got[key], want[key], w64.get(key)):
            bad.append("%s:\n  kiln %s\n  TF1  %s" % (key, got[key], want[key]))
    known = KNOWN.get((name, dt, backend))
    if known:
        assert bad, "%s %s now matches TF1: drop it from KNOWN (%s)" % (name, dt, known)
        return
    assert not bad, "%s %s (%s):\n%s" % (name, dt, backend, "\n".join(bad))
