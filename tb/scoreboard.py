"""Scoreboard: golden expected outputs for a port-stream stimulus, and the every-cycle compare."""
from __future__ import annotations

import numpy as np
from quantpe.core.kinds import expected_outputs

__all__ = ["expected_outputs", "compare", "Mismatch"]


class Mismatch(AssertionError):
    """RTL and golden disagree; `cycle` is the first cycle where they do."""

    def __init__(self, cycle: int, details: str, count: int):
        self.cycle, self.details, self.count = cycle, details, count
        super().__init__(f"{count} mismatching cycle(s), first at cycle {cycle}: {details}")


def compare(expected: dict, actual: dict, window: int = 3) -> int:
    """Compare every output on every cycle; raise Mismatch at the first difference.

    Returns the number of cycles checked.
    """
    names = sorted(expected)
    T = len(expected[names[0]])
    bad = np.zeros(T, dtype=bool)
    for n in names:
        e = np.asarray(expected[n]).reshape(T, -1)
        a = np.asarray(actual[n]).reshape(T, -1)
        bad |= np.any(e != a, axis=1)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        rows = []
        for c in range(max(0, t - window), min(T, t + window + 1)):
            got = ", ".join(f"{n}={np.asarray(actual[n])[c].tolist()}" for n in names)
            want = ", ".join(f"{n}={np.asarray(expected[n])[c].tolist()}" for n in names)
            mark = "!!" if bad[c] else "  "
            rows.append(f"{mark} cycle {c}: rtl {got} | golden {want}")
        raise Mismatch(t, "\n" + "\n".join(rows), int(bad.sum()))
    return T
