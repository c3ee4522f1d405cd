"""Runs each agent on kiln and on TF1 (when TensorFlow is installed) in the same run,
one core, same seeds, and reports wall time and environment steps to the solve
threshold and the time per action selection and per update. Learning curves go to
``<out>/<agent>-<backend>-<seed>.csv`` and ``<out>/<agent>.png``, the table to
``<out>/summary.md``.

    python examples/python/rl/compare.py --seeds 0 1 2 --out rl-results
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
# the longest first, so that runs spread over several cores finish together
AGENTS = {
    "reinforce-pendulum": ["reinforce.py", "--env", "Pendulum-v1"],
    "dqn-cartpole": ["dqn.py"],
    "actor-critic-cartpole": ["actor_critic.py"],
    "reinforce-cartpole": ["reinforce.py", "--env", "CartPole-v1"],
}


def have_tf():
    try:
        import tensorflow  # noqa: F401

        return True
    except ImportError:
        return False


def run(agent, backend, seed, out, max_steps, core):
    script, *extra = AGENTS[agent]
    path = os.path.join(out, "%s-%s-%d.csv" % (agent, backend, seed))
    cmd = [sys.executable, os.path.join(HERE, script), *extra, "--backend", backend, "--seed", str(seed), "--csv", path]
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core)] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), res.stderr[-2000:]))
    r = dict(kv.split("=", 1) for kv in line.split()[1:])
    r.update(agent=agent, csv=path)
    print(line, flush=True)
    return r


def run_all(jobs, out, max_steps, cores):
    """Runs ``jobs`` (agent, backend, seed) with one at a time pinned to each of
    ``cores``; results come back in the jobs' order."""
    results = [None] * len(jobs)
    lock = threading.Lock()
    pending = list(enumerate(jobs))

    def worker(core):
        while True:
            with lock:
                if not pending:
                    return
                i, (agent, backend, seed) = pending.pop(0)
            results[i] = run(agent, backend, seed, out, max_steps, core)

    threads = [threading.Thread(target=worker, args=(c,)) for c in cores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(r is None for r in results):
        raise SystemExit("a run failed; see the error above")
    return results


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(results, out):
    head = ["agent", "backend", "solved", "wall to solve (s)", "env steps to solve", "per action (µs)",
            "per update (µs)", "wall per env step (µs)", "wall to solve, TF1 / kiln", "per env step, TF1 / kiln"]
    table = []
    for agent in sorted({r["agent"] for r in results}):
        walls, per_step = {}, {}
        for backend in ("kiln", "tf"):
            rs = [r for r in results if r["agent"] == agent and r["backend"] == backend]
            if not rs:
                continue
            solved = [r for r in rs if r["solved"] == "True"]
            wall = [float(r["wall_to_solve"]) for r in solved]
            walls[backend] = {r["seed"]: float(r["wall_to_solve"]) for r in solved}
            steps = [int(r["steps_to_solve"]) for r in solved]
            # wall time per environment step up to the solve: the speed, apart from how
            # many steps a run's luck needed
            per_step[backend] = {r["seed"]: 1e6 * float(r["wall_to_solve"]) / int(r["steps_to_solve"]) for r in solved}
            table.append([
                agent,
                "kiln" if backend == "kiln" else "TF1",
                "%d of %d" % (len(solved), len(rs)),
                "%.1f (%.1f–%.1f)" % (median(wall), min(wall), max(wall)) if wall else "–",
                "%d (%d–%d)" % (median(steps), min(steps), max(steps)) if steps else "–",
                "%.1f" % median([float(r["act_us"]) for r in rs]),
                "%.0f" % median([float(r["update_us"]) for r in rs]),
                "%.1f" % median(list(per_step[backend].values())) if solved else "–",
                "",
                "",
            ])
        for col, d in ((-2, walls), (-1, per_step)):
            ratios = [d["tf"][k] / d["kiln"][k] for k in d.get("kiln", {}) if k in d.get("tf", {})]
            if ratios:
                table[-1][col] = "%.1f× (%.1f–%.1f)" % (median(ratios), min(ratios), max(ratios))
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    print(text)


def plot(results, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: CSVs written, no PNG (pip install matplotlib)")
        return
    for agent in sorted({r["agent"] for r in results}):
        fig, ax = plt.subplots(figsize=(7, 4))
        for r in (r for r in results if r["agent"] == agent):
            with open(r["csv"]) as f:
                rows = list(csv.reader(f))[1:]
            xs = [int(x[1]) for x in rows]
            ys = [float(x[4]) for x in rows]
            # one colour per seed: kiln solid, TF1 dashed, so each pair reads together
            style = "-" if r["backend"] == "kiln" else "--"
            colour = "C%d" % (int(r["seed"]) % 10)
            label = "%s seed %s" % ("kiln" if r["backend"] == "kiln" else "TF1", r["seed"])
            ax.plot(xs, ys, style, color=colour, label=label)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("mean return, last 100 episodes")
        ax.axhline(float(r["threshold"]) if "threshold" in r else (475.0 if "cartpole" in agent else -200.0),
                   color="grey", linewidth=0.8)
        ax.set_title(agent + " (grey: solve threshold)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, agent + ".png"), dpi=110)
        plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--backends", nargs="+", default=None, help="default: kiln, and tf when installed")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--cores", nargs="+", type=int, default=[0],
                   help="cores to run on, one run pinned to each at a time (taskset)")
    p.add_argument("--out", default="rl-results")
    p.add_argument("--summarize", action="store_true", help="only redo summary.md and the PNGs from <out>/results.csv")
    args = p.parse_args()
    if args.summarize:
        with open(os.path.join(args.out, "results.csv")) as f:
            results = list(csv.DictReader(f))
        summarize(results, args.out)
        plot(results, args.out)
        return
    backends = args.backends or (["kiln", "tf"] if have_tf() else ["kiln"])
    os.makedirs(args.out, exist_ok=True)
    jobs = [(a, b, s) for a in args.agents for s in args.seeds for b in backends]
    results = run_all(jobs, args.out, args.max_steps, args.cores)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted(results[0]))
        w.writeheader()
        w.writerows(results)
    summarize(results, args.out)
    plot(results, args.out)


if __name__ == "__main__":
    main()
