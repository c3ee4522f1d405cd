"""Writes the conformance goldens from TF1: ``python python/conformance/generate.py``
in a virtualenv with ``tensorflow-cpu`` (2.21, ``tf.compat.v1`` in graph mode).

For each case and dtype it stores TF1's values, and for float32 also TF1's own
float64 result, from which the test derives the case's tolerance.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def error_messages(tf1):
    """TF1's message for each error case and dtype: `{case|dtype: message}`."""
    out = {}
    for name in sorted(cases.CASES):
        if not name.startswith("error/"):
            continue
        for dt in ("float32", "float64"):
            tf1.reset_default_graph()
            try:
                cases.CASES[name](tf1, getattr(tf1, dt))
            except Exception as e:  # noqa: BLE001 (the message is the result)
                out["%s|%s" % (name, dt)] = " ".join(str(e).split())
    return out


def write_error_classes(data, messages=None):
    """The error cases' exception classes and TF1's messages as
    `case|dtype<TAB>class<TAB>message` lines, for readers without NumPy's string arrays
    (the Rust conformance test) and for the wording checks."""
    messages = messages or {}
    lines = []
    for k, v in sorted(data.items()):
        if k.endswith("|error"):
            key = k[: -len("|error")]
            lines.append("%s\t%s\t%s" % (key, str(v), messages.get(key, "")))
    with open(os.path.join(HERE, "goldens", "tf1_errors.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    os.makedirs(os.path.join(HERE, "goldens"), exist_ok=True)
    data = {}
    for name in sorted(cases.CASES):
        for dt in ("float32", "float64"):
            for k, v in cases.run(tf1, name, dt).items():
                data["%s|%s|%s" % (name, dt, k)] = v
    path = os.path.join(HERE, "goldens", "tf1.npz")
    np.savez_compressed(path, tf_version=np.array(tf.__version__), **data)
    write_error_classes(data, error_messages(tf1))
    print("wrote %d arrays for %d cases to %s" % (len(data), len(cases.CASES), path))


if __name__ == "__main__":
    main()
