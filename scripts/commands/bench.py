"""Benchmarks (not tests).

`quantpe bench sim`: checked cycles per second of the 16-lane int8 baseline PE on Verilator and
Icarus, for the three scoreboards, measured in one run.

  per-cycle  cocotb drives and samples every cycle and compares each cycle as it is sampled
  record     cocotb drives and samples every cycle, one vectorised comparison at the end
  memory     HDL-memory harness: stimulus and capture memories in the simulation, the simulator
             runs free, one vectorised comparison of the whole capture at the end
All three compare every output on every cycle. Build time is excluded (reported separately);
the rate counts simulation plus read-back plus comparison.

`quantpe bench power`: the gate-level simulation behind `quantpe power`, two engines on the same
sky130 netlist of the 16-lane int8 baseline PE and the same real trace, in one run: the numpy
levelised engine (`power.GateSim`) and Icarus with the liberty's cell models and a VCD
(`power.icarus_gate_sim`); seconds of each (the netlist build reported apart) and whether every
net's toggle count agrees.

`quantpe bench profile`: the Stripes per-layer profile (`model_eval.stripes_profile`, tolerance
0) of a deep digits model, for each joint search, in one run: seconds, evaluations, raises and
the summed precision. The model (`deep_digits_cnn`) is the committed reference CNN with
`blocks` residual blocks inserted after relu1, each conv 16 -> 16 3x3 (He-normal weights scaled
by `scale`, seeded) + Add(skip) + ReLU, so it has 5 + blocks weight layers; calibration and
profiling on the first `images` training images, against their labels or (`agreement`) against
the full-precision integer model's own predictions (every prediction must be kept: a stricter
target that makes the joint phase work).

`quantpe bench cluster`: one multiplier sweep (`synth_many` of `variants` approximate multipliers,
generation and Yosys synthesis, each run into a fresh build root so nothing is cached), in one
run: `repeat` rounds of the sweep on -j local processes and on a Dask cluster of 2 local worker
processes (`quantpe.core.local_cluster`: `dask scheduler` and `dask worker --nthreads 1`), the order
alternating per round, then once on a cluster of 1 worker. Reports each sweep's wall time, the
cluster's overhead over the local run (best of the rounds, and medians: the machine is shared),
the scaling from 1 to 2 workers, and whether every result is identical field by field (the
synthesis' own `wall_time_s` aside; paths compared relative to the build root). Starting the
cluster and connecting (worker checks, job processes started) are reported apart.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from quantpe.core import executor
from quantpe.core.build import build_root
from quantpe.core.executor import relocate
from quantpe.core.local_cluster import LocalCluster
from quantpe.core.settings import settings
from quantpe.explore.approx_sweep import sweep_variants
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.cnn import load_reference_cnn, model_data
from quantpe.golden.errors import QuantpeError, VerificationError
from quantpe.golden.layers import Add, Conv2d, ReLU
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.graph import Graph, Node
from quantpe.golden.model_eval import stripes_profile
from quantpe.power.measure import measure_power
from quantpe.sim.gate.icarus import icarus_gate_sim
from quantpe.sim.regression import regress
from quantpe.synth.flow import synth_many
from quantpe.synth.liberty import DEFAULT_LIBERTY, sky130_path
from quantpe.tb.power_traces import real_trace

__all__ = ["bench_sim", "bench_profile", "bench_power", "bench_cluster", "comparable", "deep_digits_cnn"]


def bench_sim(cycles: int = 100000, seed: int = 1) -> list[dict]:
    cfg = BaselineConfig()
    rows = []
    print(f"design {cfg.config_id}, {cycles} cycles per run, seed {seed}")
    print(f"{'simulator':<10} {'scoreboard':<10} {'cycles':>8} {'seconds':>8} {'checked cycles/s':>17}"
          f" {'build s':>8}")
    for sim in ("verilator", "icarus"):
        for sb in ("per-cycle", "record", "memory"):
            r = regress(cfg, sim, cycles, seed, scoreboard=sb)
            rows.append({"sim": sim, "scoreboard": sb, "cycles": r.checked, "seconds": r.sim_s,
                         "cycles_per_s": r.cycles_per_s, "build_s": r.build_s})
            print(f"{sim:<10} {sb:<10} {r.checked:>8} {r.sim_s:>8.2f} {r.cycles_per_s:>17,.0f}"
                  f" {r.build_s:>8.1f}", flush=True)
    by = {(r["sim"], r["scoreboard"]): r["cycles_per_s"] for r in rows}
    for sim in ("verilator", "icarus"):
        print(f"{sim}: memory harness is {by[(sim, 'memory')] / by[(sim, 'per-cycle')]:.1f}x the "
              f"per-cycle scoreboard, {by[(sim, 'memory')] / by[(sim, 'record')]:.1f}x the recording one")
    return rows


def deep_digits_cnn(blocks: int, scale: float = 0.02, seed: int = 0):
    """The reference CNN with `blocks` residual 3x3 blocks after relu1 (module docstring)."""
    rng = np.random.default_rng(seed)
    base = load_reference_cnn()
    nodes = []
    for nd in base.nodes:
        if nd.name == "conv2":
            prev = "relu1"
            for k in range(blocks):
                w = rng.standard_normal((16, 16, 3, 3)) * scale * np.sqrt(2 / 144)
                nodes += [Node(f"block{k}", Conv2d(w, np.zeros(16), padding=1), (prev,)),
                          Node(f"block{k}_add", Add(), (f"block{k}", prev)),
                          Node(f"block{k}_relu", ReLU(), (f"block{k}_add",))]
                prev = f"block{k}_relu"
            nodes.append(Node(nd.name, nd.layer, (prev,)))
        else:
            nodes.append(nd)
    return Graph(base.input_shape, tuple(nodes))


def bench_profile(blocks: int = 45, images: int = 256, joints=("ranked", "greedy"), scale: float = 0.02,
                  agreement: bool = False) -> list[dict]:
    g = deep_digits_cnn(blocks, scale)
    x, y = (v[:images] for v in model_data("cnn")[:2])
    q = build_qgraph(g, x)
    if agreement:                       # the target: the full-precision model's own predictions
        y = q.predict(x)
    print(f"deep digits CNN (block scale {scale}): {len(q.weight_layers)} weight layers, {len(y)} profiling images, "
          f"integer accuracy {q.accuracy(x, y):.4f}")
    print(f"{'joint':<8} {'seconds':>8} {'evaluations':>11} {'raises':>6} {'drops':>5} {'sum p':>5}  precisions")
    rows = []
    for joint in joints:
        t = time.perf_counter()
        prof, _ = stripes_profile(q, x, y, joint=joint)
        dt = time.perf_counter() - t
        rows.append({"joint": joint, "seconds": dt, "evaluations": prof.evaluations, "raises": len(prof.bumps),
                     "drops": len(prof.drops), "sum": sum(prof.precisions), "precisions": prof.precisions,
                     "accuracy": prof.accuracy, "reference": prof.reference})
        print(f"{joint:<8} {dt:>8.1f} {prof.evaluations:>11} {len(prof.bumps):>6} {len(prof.drops):>5} "
              f"{sum(prof.precisions):>5}  {' '.join(map(str, prof.precisions))}", flush=True)
    if len(rows) == 2:
        print(f"{rows[0]['joint']} takes {rows[0]['seconds'] / rows[1]['seconds']:.3f}x the time of "
              f"{rows[1]['joint']} ({rows[0]['evaluations'] / rows[1]['evaluations']:.3f}x the evaluations)")
    return rows


def bench_power(cycles: int = 2000, seed: int = 0) -> dict:
    if not sky130_path().is_file():
        raise QuantpeError(f"bench power needs the sky130 liberty at {sky130_path()}")
    cfg = BaselineConfig()
    inputs = real_trace(cfg, cycles, seed)
    work = build_root() / "bench-power" / cfg.config_id
    keep = {}
    r = measure_power(cfg, inputs, out_dir=work, keep=keep, name=f"bench-c{cycles}-s{seed}")
    t = r["times_s"]
    numpy_s = t["load_s"] + t["gate_sim_s"]
    t0 = time.perf_counter()
    _, tog = icarus_gate_sim(keep["built"], keep["ports"], inputs, work / f"icarus-c{cycles}-s{seed}")
    icarus_s = time.perf_counter() - t0
    nl, mine = keep["netlist"], keep["toggles"]
    clk = nl.ports["clk"][1][0]
    common = [i for i, n in enumerate(nl.names) if n in tog and i != clk]
    same = sum(int(mine[i]) == tog[nl.names[i]] for i in common)
    print(f"design {cfg.config_id}: {r['cells']} cells, real trace of {cycles} cycles, seed {seed}")
    print(f"netlist build (synthesis, shared by both engines): {t['synth_s']:.1f} s")
    print(f"numpy engine (load + simulate): {numpy_s:.2f} s; Icarus (simulate + VCD + toggle count): "
          f"{icarus_s:.1f} s; Icarus / numpy = {icarus_s / numpy_s:.0f}x")
    print(f"toggle counts equal on {same} of {len(common)} nets")
    return dict(cells=r["cells"], cycles=cycles, synth_s=t["synth_s"], numpy_s=numpy_s, icarus_s=icarus_s,
                nets=len(common), nets_equal=same)


#: fields of a synthesis result that time the run rather than describe the design
TIMING_FIELDS = ("wall_time_s",)


def comparable(results: list[dict], build: Path) -> list[dict]:
    """`results` (area dicts) without their timing fields and with `build` (the build root) in
    every string replaced by "<build>", so runs into different build roots compare field by field."""
    pairs = [(str(Path(build).resolve()), "<build>")]
    return [relocate({k: v for k, v in r.items() if k not in TIMING_FIELDS}, pairs) for r in results]


def _sweep(cfgs, build: Path) -> tuple[float, list[dict]]:
    old = os.environ.get("QUANTPE_BUILD")
    os.environ["QUANTPE_BUILD"] = str(build)
    try:
        t0 = time.perf_counter()
        rows = synth_many(cfgs, desc="bench sweep")
        return time.perf_counter() - t0, comparable(rows, build)
    finally:
        if old is None:
            os.environ.pop("QUANTPE_BUILD", None)
        else:
            os.environ["QUANTPE_BUILD"] = old


def bench_cluster(variants: int = 32, bits: int = 6, repeat: int = 3) -> dict:
    import statistics

    cfgs = sweep_variants(bits, bits, False)[:variants]
    jobs = settings.jobs
    print(f"sweep: {len(cfgs)} approximate {bits}x{bits} unsigned multipliers, generated and synthesised "
          f"(Yosys, built-in liberty), each sweep into a fresh build root; {repeat} rounds of local and "
          f"2-worker sweeps, alternating which goes first")
    out = {"variants": len(cfgs), "local_jobs": jobs, "local_s": [], "cluster2_s": [], "cluster1_s": [],
           "identical": True}
    with tempfile.TemporaryDirectory(prefix="quantpe-bench-cluster-") as tmp:
        ref = None

        def sweep(ex, tag):
            nonlocal ref
            with executor.routed_to(ex):
                t, rows = _sweep(cfgs, Path(tmp) / tag)
            ref = rows if ref is None else ref
            out["identical"] &= rows == ref
            return t
        for n in (2, 1):
            t0 = time.perf_counter()
            with LocalCluster(workers=n) as lc:
                t_start = time.perf_counter() - t0
                t0 = time.perf_counter()
                ex = executor.connect(lc.address, liberties=(DEFAULT_LIBERTY,))
                t_connect = time.perf_counter() - t0
                out[f"cluster{n}_start_s"], out[f"cluster{n}_connect_s"] = t_start, t_connect
                print(f"cluster of {n} worker{'s' if n > 1 else ''}: started in {t_start:.1f} s, connected "
                      f"(worker checks, job processes started) in {t_connect:.1f} s", flush=True)
                try:
                    for r in range(repeat if n == 2 else 1):
                        order = [("local", None), ("cluster", ex)] if r % 2 == 0 or n == 1 else \
                                [("cluster", ex), ("local", None)]
                        for what, e in order:
                            if what == "local" and n == 1:
                                continue
                            lc.clear_worker_caches()          # every sweep computes everything
                            t = sweep(e, f"{what}{n}-{r}")
                            out["local_s" if what == "local" else f"cluster{n}_s"].append(t)
                            print(f"  round {r + 1}: {what + (f', {jobs} processes' if what == 'local' else f', {n} worker(s)')}"
                                  f": {t:.1f} s", flush=True)
                finally:
                    ex.shutdown(wait=False)
    loc, c2, c1 = min(out["local_s"]), min(out["cluster2_s"]), min(out["cluster1_s"])
    out["overhead_pct"] = 100 * (c2 - loc) / loc
    out["overhead_median_pct"] = 100 * (statistics.median(out["cluster2_s"]) / statistics.median(out["local_s"]) - 1)
    out["scaling_1_to_2"] = c1 / c2
    print(f"local ({jobs} processes): best {loc:.1f} s, median {statistics.median(out['local_s']):.1f} s; "
          f"cluster (2 workers): best {c2:.1f} s, median {statistics.median(out['cluster2_s']):.1f} s")
    print(f"cluster overhead: {out['overhead_pct']:+.1f}% of the local wall time (best of {repeat}; medians "
          f"{out['overhead_median_pct']:+.1f}%; target <= 10%)")
    print(f"scaling: 1 worker {c1:.1f} s, 2 workers {c2:.1f} s: {out['scaling_1_to_2']:.2f}x")
    print(f"results identical to the local run, field by field: {'yes' if out['identical'] else 'NO'}")
    if not out["identical"]:
        raise VerificationError("the cluster's results differ from the local run's")
    return out
