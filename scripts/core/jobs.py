"""Running many jobs: `parallel_map` through the one executor (a local process pool, or the Dask
cluster of --cluster), and the counted progress bar of long batches.
Imports: `quantpe.golden` and `quantpe.core`.
"""
from __future__ import annotations

import functools
import sys

from quantpe.core import executor, interrupt
from quantpe.core.settings import settings

__all__ = ["progress", "parallel_map"]


def progress(iterable=None, total: int | None = None, desc: str = "", unit: str = "it"):
    """A counted progress bar on stderr (done/total, elapsed, remaining); silent when quiet."""
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, disable=settings.quiet or None, file=sys.stderr,
                leave=False, dynamic_ncols=True, mininterval=1.0, unit=unit)


def parallel_map(fn, items: list, desc: str = "", jobs: int | None = None, resources: dict | None = None) -> list:
    """[fn(x) for x in items] through the one executor (`quantpe.core.executor`): a pool of `jobs`
    local processes, or the cluster of --cluster; in order, with progress.

    `fn` and the items must be picklable (module-level functions, configs). The first failure
    is raised after the pending work is cancelled; on SIGINT or SIGTERM the local workers end at
    once (`quantpe.core.interrupt`) and nothing waits for them. `resources`: what one job needs of a
    cluster worker (e.g. {"verilator": 1}); ignored locally."""
    items = list(items)
    bar = lambda done, total: progress(done, total=total, desc=desc)     # noqa: E731
    if executor.cluster() is not None:
        return executor.map_ordered(executor.cluster(), fn, items, bar, resources)
    jobs = min(jobs or settings.jobs, len(items))
    if jobs <= 1:
        return [fn(x) for x in progress(items, desc=desc)]
    ex = executor.local_executor(jobs)
    try:
        results = executor.map_ordered(ex, functools.partial(interrupt.in_worker, fn), items, bar)
    except KeyboardInterrupt:          # the workers are being ended (quantpe.core.interrupt): no wait
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return results
