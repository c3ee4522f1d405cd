"""The Python examples print what the notebook printed, and the sine regression fits
as well from Python as the Rust example does."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "python")


def run_py(script, *args):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def test_notebook_prints_the_notebooks_values():
    out, err = run_py("notebook.py")
    expected = [
        "c = 3.0",
        "c0 = [3.]\nc1 = [6.]",
        'Tensor("a_placeholder:0", shape=(?,), dtype=float32)\na shape: (?,)',
        "c0 = [3.]\nc1 = [3. 6.]",
        "c:\n[[ 0.  1.  2.]\n [-1.  0.  1.]\n [-2. -1.  0.]]",
        "c_elementwise:\n[[-1. -2. -3.]\n [-2. -4. -6.]\n [-3. -6. -9.]]\nc_matmul:\n[[-14.]]",
        "c0:\n[[2. 4. 6.]]\nc1:\n[[3. 5. 7.]]",
        "b:\n[[1. 2. 3.]]\nc:\n2.0",
        "variable 'myvar' is declared with shape [1,2] but its initializer has shape [1,3]",
        "<tf.Variable 'myvar:0' shape=(1, 3) dtype=float32_ref>\n[<tf.Variable 'myvar:0' shape=(1, 3) dtype=float32_ref>]",
        'Tensor("Const:0", shape=(1, 3), dtype=float32)\n'
        "<tf.Variable 'myvar:0' shape=(1, 3) dtype=float32_ref>\n"
        'Tensor("add:0", shape=(1, 3), dtype=float32)',
        "var:\n[[2.0, 4.0, 6.0]]\nc:\n[[3. 6. 9.]]",
        "var1:0\nvar2:0",
        "layer_0/W0:0\nlayer_0/b0:0\nlayer_1/W1:0\nlayer_1/b1:0\nlayer_2/W2:0\nlayer_2/b2:0",
    ]
    for e in expected:
        assert e in out, "missing:\n%s\n--- in ---\n%s" % (e, out)
    # the slip is reported at the user's line of notebook.py
    assert re.search(r"notebook\.py:\d+: variable 'myvar'", out), out
    # the notebook's warned-about outer broadcast is reported, with its line
    assert re.search(r"notebook\.py:\d+: add_1: outer broadcast of \[3,1\] and \[1,3\]", err), err


def sine_log(out):
    return [float(m) for m in re.findall(r"^\d{4} mse: (\d\.\d{3})$", out, re.M)]


def final_mse(out):
    return float(re.search(r"^final mse: (\d+\.\d+)$", out, re.M).group(1))


def test_sine_matches_the_rust_example(tmp_path):
    out, _ = run_py("sine.py", str(tmp_path / "py"))
    log = sine_log(out)
    assert len(log) == 10 and log[-1] < 0.01, out
    assert "restore from the notebook's path fails as it should" in out
    py = final_mse(out)
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is needed to run the Rust example beside the Python one")
    r = subprocess.run(
        [cargo, "run", "--release", "--quiet", "--example", "sine", "--", "--out", str(tmp_path / "rs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    rs = final_mse(r.stdout)
    assert abs(py - rs) <= 0.10 * rs, "Python %.4f vs Rust %.4f" % (py, rs)
    # and both fit: the noise alone gives 0.5 * 0.05^2 = 0.00125
    assert py < 0.003 and rs < 0.003
