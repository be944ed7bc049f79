"""--cluster: the parallel steps on a real Dask cluster (a `dask scheduler` and `dask worker`
processes started here on 127.0.0.1, free ports) give the local run's results field by field,
survive a killed worker, and refuse (exit 3, one line) a worker without yosys, a worker of another
quantpe version, or a scheduler that does not answer. Under --slow: SIGTERM during a cluster run
(exit 130, nothing left on the scheduler) and a longer sweep with a worker killed and replaced."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from quantpe.core import executor
from quantpe.explore.approx_sweep import sweep_variants
from quantpe.commands.bench import comparable
from quantpe.synth.flow import SynthJob, synth_many
from quantpe.core.settings import settings
from quantpe.golden.approx import ApproxMulConfig
from quantpe.core.local_cluster import LocalCluster, free_port

#: a short sweep: 4x4 multipliers of the approxmul study (about a second each)
SWEEP = sweep_variants(4, 4, False)[:4] + sweep_variants(4, 4, True)[:2]


def _sweep(cfgs, build: Path, monkeypatch) -> list[dict]:
    monkeypatch.setenv("QUANTPE_BUILD", str(build))
    return comparable(synth_many(cfgs), build)


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The sweep on local processes (-j 2), into its own build root."""
    build = tmp_path_factory.mktemp("local") / "build"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "jobs", 2)
        return _sweep(SWEEP, build, mp)


@pytest.fixture(scope="module")
def cluster2():
    """A scheduler and two workers for the module's sweeps (a killed worker is replaced)."""
    with LocalCluster(workers=2) as lc:
        yield lc


@pytest.fixture
def on_cluster():
    """use_cluster(address) for the test, closed after it."""
    yield executor.use_cluster
    executor.close_cluster()


def test_relocate_rewrites_paths_through_configs_and_containers():
    job = ((SynthJob(verilog=Path("/c/build/parts/x/part.v"), top="part", out=Path("/c/build/parts/x/synth")),
            ApproxMulConfig()), {"p": Path("/c/build/x.v"), "s": ["/c/pkg/a"]})
    out = executor.relocate(job, [("/c/build", "/w/b"), ("/c/pkg", "/w/p")])
    assert out[1] == {"p": Path("/w/b/x.v"), "s": ["/w/p/a"]}
    assert out[0][0] == SynthJob(verilog=Path("/w/b/parts/x/part.v"), top="part", out=Path("/w/b/parts/x/synth"))
    assert out[0][1] is job[0][1]                      # nothing to change: the same object
    assert executor.relocate(out, [("/w/b", "/c/build"), ("/w/p", "/c/pkg")]) == job


def test_sweep_on_cluster_equals_local_and_fills_the_client_cache(local_reference, cluster2, tmp_path,
                                                                   monkeypatch, on_cluster):
    on_cluster(cluster2.address)
    got = _sweep(SWEEP, tmp_path / "build", monkeypatch)
    assert got == local_reference                      # every field of every result
    ran_on = {w for w in ("w0", "w1") if list((cluster2.dir / w).rglob("area.json"))}
    assert ran_on == {"w0", "w1"}                      # both workers synthesised
    executor.close_cluster()
    # the client's build root holds every cache entry: a local rerun is all hits
    assert len(list((tmp_path / "build").rglob("area.json"))) == len(SWEEP)
    with monkeypatch.context() as mp:
        mp.setattr(settings, "jobs", 1)
        again = synth_many(SWEEP)
    assert comparable(again, tmp_path / "build") == local_reference
    assert [r["wall_time_s"] for r in again] == [
        json.loads(p.read_text())["wall_time_s"]
        for p in (Path(r["verilog"][0]).parent / "synth" / "area.json" for r in again)]


def test_killed_worker_mid_sweep_gives_the_same_results(local_reference, cluster2, tmp_path, monkeypatch,
                                                         on_cluster):
    import distributed
    lc = cluster2
    lc.clear_worker_caches()                           # no worker-side cache hits: real jobs to kill
    on_cluster(lc.address)
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    box = {}
    run = threading.Thread(target=lambda: box.setdefault("rows", synth_many(SWEEP)))
    run.start()
    with distributed.Client(lc.address, set_as_default=False) as c:
        t0 = time.monotonic()
        while True:               # kill w0 while it runs a job
            busy = {c.scheduler_info()["workers"][a]["name"]: n for a, n in c.processing().items() if n}
            if "w0" in busy or time.monotonic() - t0 > 60:
                break
            time.sleep(0.05)
        assert "w0" in busy, "worker w0 never ran a job"
        lc.kill(0)
        run.join(120)
        assert not run.is_alive()
        lc.add_worker(2)                          # for the module's later tests
    assert comparable(box["rows"], tmp_path / "build") == local_reference


def test_job_timeout_and_a_failing_job(cluster2, on_cluster):
    """A job past its timeout is killed (ToolError, exit 3); a job's own error reaches the client
    as it is; the worker runs the next job."""
    ex = on_cluster(cluster2.address, job_timeout=2)
    t0 = time.monotonic()
    with pytest.raises(executor.ToolError, match="exceeded its timeout of 2 s"):
        executor.map_ordered(ex, time.sleep, [60])
    assert time.monotonic() - t0 < 20
    with pytest.raises(ValueError, match="invalid literal"):
        executor.map_ordered(ex, int, ["7", "x"])
    assert executor.map_ordered(ex, abs, [-3, 4, -5]) == [3, 4, 5]


def _job_processes(lc) -> list:
    """The live job processes of the cluster's workers (a killed one that is a zombie, or gone
    between the listing and the look, is not live)."""
    import psutil
    out = []
    for w in lc.workers:
        if w.poll() is not None:
            continue
        for q in psutil.Process(w.pid).children(recursive=True):
            try:
                if q.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(q.cmdline()):
                    out.append(q)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
    return out


def test_a_cancelled_running_job_is_killed_on_its_worker(cluster2, on_cluster):
    """Cancelling (what Ctrl-C and SIGTERM do) kills a job that is running on a worker, rather
    than leaving it to finish: its job process is gone within seconds."""
    ex = on_cluster(cluster2.address)
    before = len(_job_processes(cluster2))
    box = {}

    def run():
        try:
            executor.map_ordered(ex, time.sleep, [120])
        except BaseException as e:               # noqa: B036 -- the outcome is checked below
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    time.sleep(3)                                # the sleep job is running
    ex.cancel_all()
    t.join(30)
    assert isinstance(box.get("error"), executor.ToolError) and "cancelled" in str(box["error"])
    t0 = time.monotonic()
    while len(_job_processes(cluster2)) >= before and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert len(_job_processes(cluster2)) == before - 1


def test_a_file_a_job_reads_must_be_the_same_on_every_worker(cluster2, tmp_path, monkeypatch, on_cluster):
    """A job naming a file outside the build root (a liberty, say) that a worker has with other
    content (here: the client is made to see other content) is refused before it runs: one line,
    exit 3; a plain string is no file."""
    lib = tmp_path / "cells.lib"
    lib.write_text("library (x) { }\n")
    ex = on_cluster(str(cluster2.scheduler_file))          # the scheduler file names the cluster too
    real = executor._sha256
    monkeypatch.setattr(executor, "_sha256", lambda p: "0" * 64 if str(p) == str(lib) else real(p))
    with pytest.raises(executor.ToolError, match=f"cluster worker w.* lacks {lib} \\(different content\\), "
                                                 "which a job reads") as e:
        executor.map_ordered(ex, str, [lib])
    assert len(str(e.value).splitlines()) == 1
    monkeypatch.setattr(executor, "_sha256", real)
    assert executor.map_ordered(ex, str, [lib, "no file"]) == [str(lib), "no file"]


def _one_worker_cli(cli, tmp_path, **cluster_kw):
    with LocalCluster(workers=1, **cluster_kw) as lc:
        t0 = time.monotonic()
        code, out, err = cli(["--cluster", lc.address, "synth", "approxmul", "--a-bits", "2", "--b-bits", "2"])
        return code, err, time.monotonic() - t0


def test_worker_without_yosys_is_refused_with_one_line(cli, build, tmp_path):
    import shutil
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("iverilog", "vvp"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    path = f"{bin_}{os.pathsep}{Path(sys.executable).parent}"
    code, err, _ = _one_worker_cli(cli, tmp_path, worker_env={0: {"PATH": path}})
    lines = err.strip().splitlines()
    assert code == 3 and len(lines) == 1, err
    assert lines[0].startswith("quantpe: error: cluster worker w0") and "lacks yosys" in lines[0]
    assert "iverilog" not in lines[0] and "verilator" not in lines[0]


def test_worker_of_another_version_is_refused(cli, build, tmp_path):
    pre = tmp_path / "other_version.py"
    pre.write_text("import quantpe.core.executor as e\ne.local_identity = lambda: ('0.0.0', '0' * 16)\n")
    code, err, _ = _one_worker_cli(cli, tmp_path, preload={0: pre})
    lines = err.strip().splitlines()
    assert code == 3 and len(lines) == 1, err
    assert "cluster worker w0" in lines[0] and "runs quantpe 0.0.0" in lines[0]


def test_unreachable_cluster_exits_3_within_seconds(cli, build, monkeypatch):
    monkeypatch.setenv("QUANTPE_CLUSTER", f"tcp://127.0.0.1:{free_port()}")      # as --cluster
    t0 = time.monotonic()
    code, out, err = cli(["synth", "approxmul"])
    dt = time.monotonic() - t0
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert "cannot reach the Dask scheduler" in err
    assert dt < executor.CONNECT_TIMEOUT + 5, dt


@pytest.mark.slow
def test_sigterm_cancels_the_cluster_jobs_and_exits_130(cluster2, tmp_path):
    import distributed
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path / "build"))
    lc = cluster2
    p = subprocess.Popen([Path(sys.executable).with_name("quantpe"), "-q", "--cluster", lc.address,
                          "report", "--only", "approxmul", "-o", str(tmp_path / "out")],
                         env=env, stderr=subprocess.PIPE, text=True)
    with distributed.Client(lc.address, set_as_default=False) as c:
        count = lambda: c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))  # noqa: E731
        t0 = time.monotonic()
        while count() < 2 and time.monotonic() - t0 < 60:
            time.sleep(0.1)
        assert count() >= 2, "the sweep never reached the cluster"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 130 and "interrupted" in err, err
        t0 = time.monotonic()
        while count() and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert count() == 0                      # nothing of the run is left on the cluster


@pytest.mark.slow
def test_long_sweep_with_a_worker_killed_and_replaced(tmp_path, monkeypatch, on_cluster):
    cfgs = sweep_variants(6, 6, False)[:24]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "jobs", 2)
        ref = _sweep(cfgs, tmp_path / "local", mp)
    with LocalCluster(workers=2) as lc:
        on_cluster(lc.address)
        monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "cluster"))
        box = {}
        run = threading.Thread(target=lambda: box.setdefault("rows", synth_many(cfgs)))
        run.start()
        while len(list((tmp_path / "cluster").rglob("area.json"))) < 6:
            time.sleep(0.1)
        lc.kill(1)
        lc.add_worker(2)
        run.join(600)
        assert comparable(box["rows"], tmp_path / "cluster") == ref


@pytest.mark.slow
def test_energy_jobs_on_the_cluster_equal_local_and_fill_the_client_cache(tmp_path, monkeypatch, on_cluster):
    from quantpe.synth.liberty import sky130_path
    from quantpe.report.power import _mul_job
    from quantpe.core.jobs import parallel_map
    if not sky130_path().is_file():
        pytest.skip(f"needs the sky130 liberty at {sky130_path()}")
    jobs = [(ApproxMulConfig(method="truncated", a_bits=8, b_bits=8, t=t), 500, 0, sky130_path()) for t in (0, 6)]

    def run(build):
        monkeypatch.setenv("QUANTPE_BUILD", str(build))
        rows = parallel_map(_mul_job, jobs)
        return [executor.relocate({k: v for k, v in r.items() if k not in ("seconds", "cached", "built")},
                                  [(str(build), "<build>")]) for r in rows], [r["cached"] for r in rows]
    monkeypatch.setattr(settings, "jobs", 2)
    ref, _ = run(tmp_path / "local")
    with LocalCluster(workers=2) as lc:
        on_cluster(lc.address, liberties=(sky130_path(),))
        got, cached = run(tmp_path / "cluster")
    executor.close_cluster()
    assert got == ref and cached == [False, False]
    again, cached = run(tmp_path / "cluster")          # locally, on the cache the cluster filled
    assert again == ref and cached == [True, True]
