"""Mutation testing of the golden model and the generators: `make mutate` (not part of `make test`).

Each mutant below flips one rule in golden/ or rtl/ (a one-line textual edit); the targeted tests
must then fail ("killed"). The edit is applied in place in the checkout this file lives in, the
tests run with a private build folder, and the file is restored afterwards (also on Ctrl-C), so
run it in a clean checkout. Prints one line per mutant and the score; exits 1 if any mutant
survives. `python tests/mutation.py NAME...` runs only the named mutants.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GOLDEN_UNIT = ["tests/test_baseline_golden.py", "tests/test_approx_golden.py"]
# (name, file, text, replacement, tests)
MUTANTS = [
    ("wrap-one-bit-wide", "golden/intmath.py", "mask = np.int64((1 << bits) - 1)",
     "mask = np.int64((1 << (bits + 1)) - 1)", ["tests/test_baseline_golden.py"]),
    ("saturate-bound-off-by-one", "golden/intmath.py", "return -(1 << (bits - 1)), (1 << (bits - 1)) - 1",
     "return -(1 << (bits - 1)), (1 << (bits - 1))", ["tests/test_baseline_golden.py"]),
    ("round-half-to-even", "golden/intmath.py", "return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)",
     "return np.rint(x).astype(np.int64)", ["tests/test_baseline_golden.py"]),
    ("product-bits-one-short", "golden/dot.py", "return a_bits + w_bits + (0 if (a_signed or w_signed) else 1)",
     "return a_bits + w_bits - 1 + (0 if (a_signed or w_signed) else 1)", ["tests/test_baseline_golden.py"]),
    ("dliq-j-search-0..6", "golden/strum_encode.py", "steps = 2.0 ** np.arange(J_MAX + 1)",
     "steps = 2.0 ** np.minimum(np.arange(J_MAX + 1), J_MAX - 1)", ["tests/test_strum_golden.py"]),
    ("strum-ties-to-higher-index", "golden/strum_encode.py", "kind=\"stable\"", "kind=\"quicksort\"",
     ["tests/test_strum_golden.py"]),
    ("truncation-compensation-off", "golden/approx.py", "return _dropped_bits_expectation(pp_keep_mask(cfg))",
     "return 0", GOLDEN_UNIT + ["tests/test_approx_rtl.py"]),
    ("c42-golden-xor_or-carry-and", "golden/compressors.py",
     "return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) | (x3 & x4)", "return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) & (x3 & x4)",
     ["tests/test_approx_compress.py"]),
    ("c42-golden-fa_or-sum-and", "golden/compressors.py", "return x1 ^ x2 ^ (x3 | x4),",
     "return x1 ^ x2 ^ (x3 & x4),", ["tests/test_approx_compress.py"]),
    ("c42-rtl-sum-carry-swapped", "rtl/approx.py", "m.d.comb += [s.eq(x_sum), c.eq(x_carry)]",
     "m.d.comb += [s.eq(x_carry), c.eq(x_sum)]", ["tests/test_approx_compress.py"]),
    ("dadda-half-adder-for-excess-2", "golden/reduction.py", "elif excess == 1 or len(old) == 2:",
     "elif excess <= 2 or len(old) == 2:", ["tests/test_approx_compress.py"]),
    ("booth-golden-two-without-not-one", "golden/approx.py", "two = (b_hi ^ b_mid) & (one ^ 1)",
     "two = b_hi ^ b_mid", ["tests/test_approx_booth.py"]),
    ("booth-golden-sign-bit-not-inverted", "golden/approx.py", 'cols[2 * i + j].append(("booth", i, j, j == na))',
     'cols[2 * i + j].append(("booth", i, j, False))', ["tests/test_approx_booth.py"]),
    ("booth-golden-compensation-floor", "golden/approx.py", "return (2 * total + n) // (2 * n)",
     "return total // n", ["tests/test_approx_booth.py"]),
    ("booth-rtl-sign-bit-not-inverted", "rtl/approx.py", "m.d.comb += bit.eq(~v if inv else v)",
     "m.d.comb += bit.eq(v)", ["tests/test_approx_booth.py"]),
    ("booth-rtl-b-not-sign-extended", "rtl/approx.py", "return Const(0, 1) if k < 0 else b[min(k, nb - 1)]",
     "return Const(0, 1) if k < 0 or k >= nb else b[k]", ["tests/test_approx_booth.py"]),
    ("accumulator-reset-to-1", "rtl/accumulator.py", "acc = Signal(signed(n))",
     "acc = Signal(signed(n), init=1)", ["tests/test_regression.py::test_matches_golden"]),
    ("accumulator-saturates-one-low", "rtl/accumulator.py", "lo, hi = int_range(n, True)",
     "lo, hi = int_range(n, True)[0], int_range(n, True)[1] - 1",
     ["tests/test_regression.py::test_matches_golden"]),
    ("adder-tree-odd-term-dropped", "rtl/adder_tree.py", "                nxt.append(level[-1])",
     "                nxt.append(level[-1] * 0)", ["tests/test_strum_rtl.py"]),
    ("lane-product-plus-one", "rtl/baseline.py", "m.d.comb += p.eq(a[i] * w[i])",
     "m.d.comb += p.eq(a[i] * w[i] + (a[i] == -1))", ["tests/test_regression.py::test_matches_golden"]),
    ("stripes-signed-precision-short", "golden/stripes_precision.py",
     "return np.maximum(bit_length(magnitude(a, signed)) + (1 if signed else 0), 1)",
     "return np.maximum(bit_length(magnitude(a, signed)), 1)", ["tests/test_stripes_golden.py"]),
    ("stripes-detector-msb", "golden/stripes_precision.py", "msb = bit_length(or_mag) - (0 if signed else 1)",
     "msb = bit_length(or_mag) - 1", ["tests/test_stripes_golden.py", "tests/test_stripes_rtl.py"]),
]


def run_mutant(name, rel, old, new, tests, build: Path) -> str:
    path = ROOT / rel
    text = path.read_text()
    if text.count(old) < 1:
        return "not-applied"
    mutated = text.replace(old, new, 1)
    try:
        path.write_text(mutated)
        env = dict(os.environ, QUANTPE_BUILD=str(build / name), QUANTPE_SEED="1")
        r = subprocess.run([str(ROOT / ".venv" / "bin" / "pytest"), "-x", "-q", "-n", "2", "-p",
                            "no:cacheprovider", *tests], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=1800)
        return "killed" if r.returncode != 0 else "SURVIVED"
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    finally:
        path.write_text(text)


def main(argv) -> int:
    chosen = [m for m in MUTANTS if not argv or m[0] in argv]
    results = []
    with tempfile.TemporaryDirectory(prefix="quantpe-mutants-") as tmp:
        for name, rel, old, new, tests in chosen:
            t0 = time.monotonic()
            res = run_mutant(name, rel, old, new, tests, Path(tmp))
            results.append((name, res))
            print(f"{name:32s} {res:16s} {time.monotonic() - t0:6.0f} s  ({rel}: {tests})", flush=True)
    applied = [r for r in results if r[1] != "not-applied"]
    killed = [r for r in applied if r[1].startswith("killed")]
    print(f"mutation score: {len(killed)}/{len(applied)} killed"
          + (f"; not applied (text not found): {[n for n, r in results if r == 'not-applied']}"
             if len(applied) != len(results) else ""))
    return 0 if len(killed) == len(applied) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
