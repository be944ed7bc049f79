"""Mutation testing of the golden model, the generators and the energy flow: `make mutate` (CI
runs it after `make test`, see .ci/run).

Each mutant below flips one rule in golden/, rtl/, tb/ or scripts/ (a one-line textual edit); its
targeted tests (narrow on purpose: named tests run in one process, whole files on two workers)
must then fail ("killed": pytest exit 1, or 2 when collection breaks). Before any mutant runs,
every targeted test must collect on the unmutated tree, so a renamed test cannot pass for a kill.
The edit is applied in place in the checkout this file lives in, the tests run with a private
build folder, and the file is restored afterwards (also on Ctrl-C), so run it in a clean
checkout. Prints one line per mutant, the count per mutated file and the score; exits 1 if any
mutant survives or its text is no longer in its file ("not-applied": mend the mutant in the same
change that moves the code). `python tests/mutation.py NAME...` runs only the named mutants.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BOOTH = "tests/test_approx_booth.py::"
FIXEDPOINT = "tests/test_fixedpoint_golden.py::"
REQUANT_REG = "tests/test_regression.py::test_matches_golden[requant-"
BASELINE_REG = "tests/test_regression.py::test_matches_golden[baseline-"
DSIP = "tests/test_dsip_tile.py::"
PLAN_SEARCH = "tests/test_plan_search.py::"
BIAS = "tests/test_bias_comp.py::"
TIES = "test_brute_force_and_greedy_break_accuracy_ties_to_the_lower_cost"
ENERGY = "tests/test_energy.py::"
B = "tests/test_baseline_golden.py::"
# (name, file, text, replacement, tests)
MUTANTS = [
    ("wrap-one-bit-wide", "golden/intmath.py", "mask = np.int64((1 << bits) - 1)",
     "mask = np.int64((1 << (bits + 1)) - 1)", [B + "test_wrap_hand_computed"]),
    ("saturate-bound-off-by-one", "golden/intmath.py", "return -(1 << (bits - 1)), (1 << (bits - 1)) - 1",
     "return -(1 << (bits - 1)), (1 << (bits - 1))", [B + "test_accumulator_bounds_hand_computed"]),
    ("round-half-to-even", "golden/intmath.py", "return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)",
     "return np.rint(x).astype(np.int64)", [B + "test_quantize_rounds_exact_halves_away_from_zero"]),
    ("product-bits-one-short", "golden/dot.py", "return a_bits + w_bits + (0 if (a_signed or w_signed) else 1)",
     "return a_bits + w_bits - 1 + (0 if (a_signed or w_signed) else 1)",
     [B + "test_product_bits_is_the_smallest_signed_width_of_every_product"]),
    ("dliq-j-search-0..6", "golden/strum_encode.py", "steps = 2.0 ** np.arange(J_MAX + 1)",
     "steps = 2.0 ** np.minimum(np.arange(J_MAX + 1), J_MAX - 1)", ["tests/test_strum_golden.py::test_dliq_encoder_reaches_the_largest_shift"]),
    ("strum-ties-to-higher-index", "golden/strum_encode.py", "kind=\"stable\"", "kind=\"quicksort\"",
     ["tests/test_strum_golden.py::test_encode_int_matches_brute_force[strum-dliq-static-b16k8-h8l4-ai8-acc32-p1]"]),
    ("truncation-compensation-off", "golden/approx.py", "return _dropped_bits_expectation(pp_keep_mask(cfg), inv)",
     "return 0", ["tests/test_approx_golden.py::test_kinds_exhaustive_asymmetric[s-5-6]"]),
    ("c42-golden-xor_or-carry-and", "golden/compressors.py",
     "return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) | (x3 & x4)", "return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) & (x3 & x4)",
     ["tests/test_approx_compress.py::test_compressor_truth_table"]),
    ("c42-golden-fa_or-sum-and", "golden/compressors.py", "return x1 ^ x2 ^ (x3 | x4),",
     "return x1 ^ x2 ^ (x3 & x4),", ["tests/test_approx_compress.py::test_compressor_truth_table"]),
    ("c42-rtl-sum-carry-swapped", "rtl/approx.py", "m.d.comb += [s.eq(x_sum), c.eq(x_carry)]",
     "m.d.comb += [s.eq(x_carry), c.eq(x_sum)]", ["tests/test_approx_compress.py::test_rtl_exhaustive_small[u4x4]"]),
    ("dadda-half-adder-for-excess-2", "golden/reduction.py", "elif excess == 1 or len(old) == 2:",
     "elif excess <= 2 or len(old) == 2:", ["tests/test_approx_compress.py::test_dadda_cell_counts_8x8"]),
    ("booth-golden-two-without-not-one", "golden/approx.py", "two = (b_hi ^ b_mid) & (one ^ 1)",
     "two = b_hi ^ b_mid", [BOOTH + "test_booth_digit_table"]),
    ("booth-golden-sign-bit-not-inverted", "golden/approx.py", 'cols[2 * i + j].append(("booth", i, j, j == na))',
     'cols[2 * i + j].append(("booth", i, j, False))', [BOOTH + "test_exact_booth_is_the_product"]),
    ("booth-golden-compensation-floor", "golden/approx.py", "return (2 * total + n) // (2 * n)",
     "return total // n", [BOOTH + "test_compensation_is_the_mean_dropped_value"]),
    ("booth-rtl-sign-bit-not-inverted", "rtl/approx.py", "m.d.comb += bit.eq(~v if inv else v)",
     "m.d.comb += bit.eq(v)", [BOOTH + "test_rtl_exhaustive_small[4-4]"]),
    ("booth-rtl-b-not-sign-extended", "rtl/approx.py", "return Const(0, 1) if k < 0 else b[min(k, nb - 1)]",
     "return Const(0, 1) if k < 0 or k >= nb else b[k]", [BOOTH + "test_rtl_exhaustive_small[5-3]"]),
    ("accumulator-reset-to-1", "rtl/accumulator.py", "acc = Signal(signed(n))",
     "acc = Signal(signed(n), init=1)", [BASELINE_REG + "l4-int4xuint4-icarus]"]),
    ("accumulator-saturates-one-low", "rtl/accumulator.py", "lo, hi = int_range(n, True)",
     "lo, hi = int_range(n, True)[0], int_range(n, True)[1] - 1",
     [BASELINE_REG + "l8-int2-sat-icarus]"]),
    ("adder-tree-odd-term-dropped", "rtl/adder_tree.py", "                nxt.append(level[-1])",
     "                nxt.append(level[-1] * 0)", ["tests/test_strum_rtl.py::test_pe_matches_golden_every_cycle[strum-dliq-static-b8k3-h6l3-ai8-acc22-p0-jlayer-sat]"]),
    ("lane-product-plus-one", "rtl/baseline.py", "m.d.comb += p.eq(a[i] * w[i])",
     "m.d.comb += p.eq(a[i] * w[i] + (a[i] == -1))", [BASELINE_REG + "l8-int2-sat-icarus]"]),
    ("stripes-signed-precision-short", "golden/stripes_precision.py",
     "return np.maximum(bit_length(magnitude(a, signed)) + (1 if signed else 0), 1)",
     "return np.maximum(bit_length(magnitude(a, signed)), 1)", ["tests/test_stripes_golden.py::test_lane_precision_every_value_every_width"]),
    ("stripes-detector-msb", "golden/stripes_precision.py", "msb = bit_length(or_mag) - (0 if signed else 1)",
     "msb = bit_length(or_mag) - 1", ["tests/test_stripes_golden.py::test_brick_cycles_and_values[stripes-dyn-g16-l-l16-ai8-wi8-acc32]"]),

    # -- Dynamic Stripes tile (golden/dsip_tile.py, rtl/dsip_tile.py, golden/sip_tile_map.py)
    ("dsip-lockstep-fastest-window", "golden/dsip_tile.py", "return window_precisions(cfg, codes).max(axis=-1)",
     "return window_precisions(cfg, codes).min(axis=-1)",
     [DSIP + "test_brick_precision_is_the_slowest_windows_fewest_bits"]),
    ("dsip-ready-bubble", "golden/dsip_tile.py", "ready[t] = rdy = int(not busy or k == 0)",
     "ready[t] = rdy = int(not busy)", [DSIP + "test_bricks_are_dot_products_at_the_detected_cycles"]),
    ("dsip-rtl-detector-one-short", "rtl/dsip_tile.py", "m.d.comb += self.p.eq(i + 2)",
     "m.d.comb += self.p.eq(i + 1)", [DSIP + "test_detector_rtl_exhaustive"]),
    ("dsip-rtl-ready-bubble", "rtl/dsip_tile.py", "self.ready.eq(~busy | (k == 0))", "self.ready.eq(~busy)",
     ["tests/test_regression.py::test_matches_golden[dsip_tile-2x2-l4-a8w8-window-icarus]"]),
    ("dsip-map-cycles-one-more", "golden/sip_tile_map.py", "int(per.sum()) + 2", "int(per.sum()) + 3",
     ["tests/test_sip_tile_map.py::test_dynamic_figures_by_hand"]),

    # -- requantiser and LFSR (golden/requant.py, golden/fixedpoint.py, golden/lfsr.py, rtl/requant.py, rtl/lfsr.py)
    ("rtl-galois-low-bit-back-in", "rtl/lfsr.py", "out, shifted = bits[0], bits[1:] + [Const(0, 1)]",
     "out, shifted = bits[0], bits[1:] + [bits[0]]", [REQUANT_REG + "col2-indep-gal16-icarus]"]),
    ("rtl-nearest-ties-up", "rtl/requant.py", "r = (1 << (k - 1)) - 1 if k else None",
     "r = (1 << (k - 1)) if k else None", [REQUANT_REG + "nearest-icarus]"]),
    ("rtl-fibonacci-tap-dropped", "rtl/lfsr.py", "bits = [reduce(xor, [bits[i] for i in taps])] + bits[:-1]",
     "bits = [reduce(xor, [bits[i] for i in taps[1:]])] + bits[:-1]", [REQUANT_REG + "sr-default-icarus]"]),
    ("rtl-lfsr-loads-zero", "rtl/lfsr.py", "self.state.eq(self.load_value | (self.load_value == 0))",
     "self.state.eq(self.load_value)", [REQUANT_REG + "sr-default-icarus]"]),
    ("rtl-lfsr-advances-when-idle", "rtl/requant.py", "g.advance.eq(self.valid)", "g.advance.eq(1)",
     [REQUANT_REG + "sr-default-icarus]"]),
    ("rtl-lanes-share-lfsr0", "rtl/requant.py", "r = rand[0 if cfg.n_lfsr == 1 else i]", "r = rand[0]",
     [REQUANT_REG + "col3-indep-fib16-icarus]"]),
    ("rtl-saturate-high-one-low", "rtl/requant.py", "hi, lo = (1 << (wl - 1)) - 1, -(1 << (wl - 1))",
     "hi, lo = (1 << (wl - 1)) - 2, -(1 << (wl - 1))", [REQUANT_REG + "nearest-k0-icarus]"]),
    ("golden-nearest-ties-up", "golden/fixedpoint.py", "return np.full_like(z, (1 << (k - 1)) - 1)",
     "return np.full_like(z, 1 << (k - 1))", [FIXEDPOINT + "test_hand_table"]),
    ("golden-lfsr-seed-zero-kept", "golden/requant.py", "cur = [int(s) or 1 for s in seeds[t]]",
     "cur = [int(s) for s in seeds[t]]", [FIXEDPOINT + "test_schedule_latency_hold_and_reseed"]),
    ("golden-galois-no-feedback", "golden/lfsr.py", "s = (s >> 1) ^ (taps if s & 1 else 0)",
     "s = (s >> 1) ^ (taps if s & 2 else 0)", [FIXEDPOINT + "test_lfsr_hand_sequences"]),
    # -- lowering and the layer graph (golden/lowering.py, golden/layers.py)
    ("int-matmul-float-bound-2^63", "golden/lowering.py", "if peak < 1 << 53:", "if peak < 1 << 63:",
     ["tests/test_layers.py::test_int_matmul_odd_operands_on_both_sides_of_2_53"]),
    ("qdq-kept-scale-ignores-zero-point", "golden/layers.py",
     "lo, hi = self.qmin - self.zero_point, self.qmax - self.zero_point", "lo, hi = self.qmin, self.qmax",
     ["tests/test_onnx_float.py::test_qdq_kept_scale_hand_cases"]),
    ("add-small-multiplier-floor", "golden/qgraph.py",
     "mults[1 - big] = int(round_half_away(math.ldexp(ms[1 - big], shift)))",
     "mults[1 - big] = int(math.floor(math.ldexp(ms[1 - big], shift)))",
     ["tests/test_layers.py::test_add_multipliers_hand_derived"]),
    # -- ONNX import (golden/onnx_io.py; a rewrite moves this text: mend it in the same change)
    ("gemm-beta-ignored", "golden/onnx_import.py", "bias = float(a.get(\"beta\", 1.0)) * np.broadcast_to(",
     "bias = np.broadcast_to(", ["tests/test_onnx_io.py::test_gemm_attributes_against_onnxruntime"]),
    ("gemm-alpha-ignored", "golden/onnx_import.py", "w = float(a.get(\"alpha\", 1.0)) * (w if a.get(\"transB\", 0) else w.T)",
     "w = (w if a.get(\"transB\", 0) else w.T)", ["tests/test_onnx_io.py::test_gemm_attributes_against_onnxruntime"]),
    # -- plans (golden/fames.py, golden/plan_search.py, golden/plan.py)
    ("fames-h-mean-n-gy2", "golden/fames.py", "h_l = float(np.mean((n_samples * gy) ** 2))",
     "h_l = float(np.mean(n_samples * gy ** 2))", ["tests/test_plan_search.py::test_fames_hessian_proxy_hand_computed"]),
    ("fames-second-order-over-n", "golden/fames.py", "second = m[\"h\"] / (2 * m[\"n\"])",
     "second = m[\"h\"] / m[\"n\"]", [PLAN_SEARCH + "test_estimates_zero_for_exact_and_grow_with_error"]),
    ("fames-first-order-signed", "golden/fames.py", "rows[name][i] = (first, second, abs(first) + second)",
     "rows[name][i] = (first, second, first + second)", [PLAN_SEARCH + "test_estimate_is_abs_first_plus_second"]),
    ("fames-ladder-stops-half-way", "golden/fames.py", "(floor / top) ** (k / (n_budgets - 1))",
     "(floor / top) ** (k / (2 * (n_budgets - 1)))",
     [PLAN_SEARCH + "test_fames_budget_ladder_reaches_the_smallest_estimate"]),
    ("mckp-budget-ignored", "golden/fames.py", "hi.append(float(budget))", "hi.append(np.inf)",
     [PLAN_SEARCH + "test_mckp_matches_enumeration"]),
    ("ga-exact-start-ignored", "golden/plan_search.py",
     "sampling = IntegerRandomSampling() if start == \"random\" else exact_start(n_options, pop_size, seed)",
     "sampling = IntegerRandomSampling()",
     [PLAN_SEARCH + "test_nsga2_exact_start_evaluates_the_start_population_first"]),
    ("ga-exact-start-two-layers", "golden/plan_search.py", "            row[layer] = opt\n",
     "            row[layer] = opt\n            row[(layer + 1) % len(row)] = 1\n",
     [PLAN_SEARCH + "test_exact_start_is_the_exact_plan_and_distinct_one_layer_substitutions"]),
    ("table-store-shape-trusted", "golden/approx.py",
     "if t is None or t.shape != shape or t.dtype != np.int64:", "if t is None:",
     ["tests/test_table_store.py::test_a_broken_file_is_made_again"]),
    ("quantune-walk-most-sensitive-first", "golden/plan_search.py",
     "order = sorted(cheaper, key=lambda k: (scores[k], -pb.unit(k[1])))",
     "order = sorted(cheaper, key=lambda k: (-scores[k], -pb.unit(k[1])))",
     [PLAN_SEARCH + "test_quantune_plan_hand_derived"]),
    ("quantune-raise-least-sensitive-first", "golden/plan_search.py",
     "key=lambda i: -scores.get((pb.names[i], plan[i]), 0.0)", "key=lambda i: scores.get((pb.names[i], plan[i]), 0.0)",
     [PLAN_SEARCH + "test_quantune_plan_hand_derived"]),
    ("sensitivity-orientation-lost", "golden/plan_search.py", "v = np.array([sign * metrics[k][m] for k in keys]",
     "v = np.array([metrics[k][m] for k in keys]", [PLAN_SEARCH + "test_scores_oriented_and_bounded"]),
    ("brute-ties-to-higher-cost", "golden/plan_search.py", "if best is None or (a, -c) > (best[1], -best[2]):",
     "if best is None or (a, c) > (best[1], best[2]):", [PLAN_SEARCH + TIES]),
    ("greedy-ties-to-smaller-saving", "golden/plan_search.py", "key = (pb.accuracy(cand), pb.cost(plan) - pb.cost(cand))",
     "key = (pb.accuracy(cand), pb.cost(cand) - pb.cost(plan))", [PLAN_SEARCH + TIES]),
    ("uniform-first-within-budget", "golden/plan_search.py", "if best is None or a > best[1]:", "if best is None:",
     [PLAN_SEARCH + TIES]),
    ("plan-widths-swapped", "golden/plan.py", "return [e[\"a_bits\"] for e in rows], [e[\"w_bits\"] for e in rows], specs",
     "return [e[\"w_bits\"] for e in rows], [e[\"a_bits\"] for e in rows], specs",
     ["tests/test_plan.py::test_round_trip_and_apply_is_bit_exact"]),
    ("plan-multiplier-not-applied", "golden/plan.py", "q = q.with_mul(approx_mul(cfg), [e[\"name\"]])", "q = q",
     ["tests/test_plan.py::test_round_trip_and_apply_is_bit_exact"]),
    ("plan-model-hash-unchecked", "golden/plan.py", "if plan[\"model\"][\"sha256\"] != graph_sha256(graph):",
     "if False:", ["tests/test_plan.py::test_other_model_and_bad_json"]),
    ("macs-conv-without-channels", "golden/plan.py", "int(oh * ow * lay.out_channels * lay.cg * lay.taps)",
     "int(oh * ow * lay.out_channels * lay.taps)", ["tests/test_plan.py::test_macs_hand_counted"]),
    # -- bias compensation and the bias-aware estimate (golden/bias_comp.py, golden/fames.py), the exact optimum
    ("bias-comp-rounds-toward-zero", "golden/bias_comp.py", "return -round_half_away(np.asarray(mu, dtype=np.float64))",
     "return -np.trunc(np.asarray(mu, dtype=np.float64)).astype(np.int64)",
     [BIAS + "test_compensation_rounds_half_away_and_cancels_the_mean"]),
    ("bias-comp-means-unnormalised", "golden/bias_comp.py", "per = ((counts / np.maximum(total, 1.0)).reshape",
     "per = ((counts / 1.0).reshape", [BIAS + "test_mean_errors_against_every_product"]),
    ("fames-shift-term-dropped", "golden/fames.py", "return first, resid + float(np.sum(shift ** 2)) / (2 * m[\"n\"])",
     "return first, resid", [BIAS + "test_shift_term_of_a_constant_error"]),
    ("fames-offsets-ignored-in-first", "golden/fames.py",
     "first += m[\"s_a\"] * float(np.sum(m[\"s_w\"] * offsets * m[\"T\"]))", "first += 0.0",
     [BIAS + "test_shift_term_of_a_constant_error"]),
    ("plan-bias-offsets-not-applied", "golden/plan.py",
     "q = q.with_bias_offsets(e[\"name\"], np.asarray(e[\"bias_offsets\"], dtype=np.int64))", "q = q",
     [BIAS + "test_plan_bias_offsets_round_trip_and_checks"]),
    ("milp-objective-maximised", "golden/plan_search.py", "objective = [[scores[(n, opt)] for opt",
     "objective = [[-scores[(n, opt)] for opt", [BIAS + "test_exact_optimum_minimises_quantune_objective"]),
    # -- PE arrays (golden/array.py)
    ("array-window-on-flip-takes-new-set", "golden/array.py", "return np.searchsorted(flips, windows) - 1",
     "return np.searchsorted(flips, windows, side=\"right\") - 1",
     ["tests/test_array.py::test_hand_computed_sums_and_timing"]),
    ("array-rows-oldest-load-first", "golden/array.py", "return before - 1 - np.arange(rows)",
     "return before - rows + np.arange(rows)", ["tests/test_array.py::test_hand_computed_sums_and_timing"]),
    # -- energy (scripts/power/energy.py, scripts/power/measure.py)
    ("leakage-in-energy-unit", "scripts/power/energy.py", "internal, leak * lib.leak_unit, periods",
     "internal, leak * lib.energy_unit, periods", [ENERGY + "test_leakage_is_the_liberty_cells_leakage"]),
    ("sta-replay-leakage-in-energy-unit", "scripts/power/energy.py", "p_leak = cell.leakage * lib.leak_unit",
     "p_leak = cell.leakage * lib.energy_unit", [ENERGY + "test_leakage_is_the_liberty_cells_leakage"]),
    ("switching-without-half", "scripts/power/energy.py", "sw_net = 0.5 * tc * self.load * cap_f * v2",
     "sw_net = tc * self.load * cap_f * v2", [ENERGY + "test_switching_is_toggles_times_load"]),
    ("clock-toggles-once-per-period", "scripts/power/energy.py", "tc[self.clock_net] = 2.0 * periods",
     "tc[self.clock_net] = 1.0 * periods", [ENERGY + "test_constant_inputs_cost_only_the_flops_clock_energy"]),
    ("energy-per-cycle-leaks-whole-window", "scripts/power/energy.py", "+ self.leakage_w * self.period_s)}",
     "+ self.leakage_w * self.time_s)}", [ENERGY + "test_leakage_is_the_liberty_cells_leakage"]),
    ("power-macs-count-idle-cycles", "scripts/power/measure.py", "float(np.count_nonzero(inputs[\"valid\"])) * lanes",
     "float(len(inputs[\"valid\"])) * lanes", ["tests/test_power.py::test_power_ordering_constant_sparse_random"]),
    ("power-per-op-whole-stimulus", "scripts/power/measure.py", "ops_window = ops * (T - 1) / T", "ops_window = ops",
     ["tests/test_power.py::test_power_ordering_constant_sparse_random"]),
]


PYTEST = [str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"]


def run_mutant(name, rel, old, new, tests, build: Path) -> str:
    path = ROOT / rel
    text = path.read_text()
    if text.count(old) < 1:
        return "not-applied"
    mutated = text.replace(old, new, 1)
    try:
        path.write_text(mutated)
        env = dict(os.environ, QUANTPE_BUILD=str(build / name), QUANTPE_SEED="1")
        # named tests (file::test) run in one process; whole files on two workers
        workers = ["-p", "no:xdist"] if all("::" in t for t in tests) else ["-n", "2"]
        r = subprocess.run(PYTEST + ["-x", "-rf", *workers, *tests], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=1800)
        # 1: a test failed; 2: collection failed (the unmutated tests collect, see main)
        res = {0: "SURVIVED", 1: "killed", 2: "killed"}.get(r.returncode, f"error (pytest {r.returncode})")
        first = next((ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("FAILED ")), None)
        return f"{res} by {first}" if first and not all("::" in t for t in tests) else res
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    finally:
        path.write_text(text)


def main(argv) -> int:
    unknown = set(argv) - {m[0] for m in MUTANTS}
    if unknown:
        print(f"mutation: unknown mutant(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not argv or m[0] in argv]
    # every targeted test must exist (a test that is not found would count as a kill)
    specs = sorted({t for m in chosen for t in m[4]})
    r = subprocess.run(PYTEST + ["-p", "no:xdist", "--collect-only", *specs], cwd=ROOT, capture_output=True,
                       text=True)
    if r.returncode != 0:
        print(f"mutation: the targeted tests do not collect on the unmutated tree:\n{r.stdout[-3000:]}")
        return 1
    results = []
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="quantpe-mutants-") as tmp:
        for name, rel, old, new, tests in chosen:
            t0 = time.monotonic()
            res = run_mutant(name, rel, old, new, tests, Path(tmp))
            results.append((name, rel, res))
            print(f"{name:36s} {res:16s} {time.monotonic() - t0:6.0f} s  ({rel}: {tests})", flush=True)
    applied = [r for r in results if r[2] != "not-applied"]
    killed = [r for r in applied if r[2].startswith("killed")]
    for rel in sorted({r[1] for r in results}):
        mine = [r for r in results if r[1] == rel]
        print(f"  {rel:28s} {sum(r[2].startswith('killed') for r in mine)}/{len(mine)} killed")
    print(f"mutation score: {len(killed)}/{len(applied)} killed in {time.monotonic() - t_all:.0f} s"
          + (f"; not applied (text not found): {[n for n, _, r in results if r == 'not-applied']}"
             if len(applied) != len(results) else ""))
    return 0 if len(killed) == len(applied) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
