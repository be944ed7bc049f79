"""`quantpe plan MODEL --method ...`: per-layer hardware plans (QuantuneV2, FAMES, baselines).

  quantpe plan cnn --method quantune [--budget 0.5] -o plan.json
  quantpe plan cnn --method fames [--budget 1.0] [--base PLAN.json | --precision-budget 0.5] -o plan.json

Precision methods (quantune | uniform | greedy | brute | milp) choose one (a_bits, w_bits) per weight
layer among --precisions (default 8x8,8x4,4x4,2x2: the multiplier library's widths) with exact
multipliers; --budget is the cost ceiling as a fraction of the all-first-precision model's cost.
Multiplier methods (fames | nsga2) keep the precisions of --base (or of a quantune plan at
--precision-budget) and choose one multiplier per layer among the library's variants of the
layer's widths (`quantpe.explore.approx_sweep.sweep_variants`, signed); --budget is the largest accepted
accuracy loss in points against the same model with exact multipliers.

Cost of the precision methods ("area x MACs", the stated proxy of multiplier energy): sum over
layers of multiplications per sample x the multiplier's Yosys area (µm², built-in liberty;
`quantpe.synth.flow`, cached). The multiplier methods minimise --cost: energy (default when the sky130
liberty is there: sum over layers of MACs x pJ per multiplication on the layer's own operand
pairs, `quantpe.explore.plan_energy`) or area (area x MACs).
Reference models calibrate on the first 512 training images and score on the test split;
file models use --inputs/--labels for both (without --labels: the float model's top-1 classes).
Bad input: one line `quantpe: error: ...`, exit 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from quantpe.core.limits import MAX_LOSS_POINTS, OP_BITS, bounded_float, bounded_int, items_type, seed_type
from quantpe.explore.plans import (
    COSTS,
    MUL_METHODS,
    PRECISION_METHODS,
    PRECISIONS,
    load_plan,
    run_method,
    write_plan,
)
from quantpe.golden.atomic import check_output
from quantpe.golden.errors import ConfigError
from quantpe.golden.plan_search import GA_STARTS

__all__ = ["add_plan_parser", "cmd_plan", "parse_precisions"]


# ------------------------------------------------------------------ CLI
def add_plan_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("plan", help="per-layer plan (QuantuneV2, FAMES, baselines) -> plan.json",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="mlp | cnn | resnet | FILE.npz | FILE.onnx")
    p.add_argument("--method", required=True, choices=PRECISION_METHODS + MUL_METHODS)
    p.add_argument("--budget", type=bounded_float("--budget", 0.0, MAX_LOSS_POINTS), default=None,
                   help="precision methods: cost fraction in (0, 1] [0.5]; fames/nsga2: max accuracy loss, "
                        f"points in [0, {MAX_LOSS_POINTS:g}] [1.0]")
    p.add_argument("--precisions", default=",".join(f"{a}x{w}" for a, w in PRECISIONS),
                   help="AxW options per layer, A and W in 2..8 [8x8,8x4,4x4,2x2]")
    p.add_argument("--base", type=Path, default=None, help="fames/nsga2: plan whose precisions to keep")
    p.add_argument("--precision-budget", type=bounded_float("--precision-budget", 0.0, 1.0, lo_open=True),
                   default=0.5, help="fames/nsga2 without --base: quantune cost fraction in (0, 1] [0.5]")
    p.add_argument("--generations", type=bounded_int("--generations", 1, MAX_GENERATIONS), default=10,
                   help=f"nsga2 generations, 1..{MAX_GENERATIONS} [10]")
    p.add_argument("--pop-size", type=bounded_int("--pop-size", 2, MAX_POP_SIZE), default=20,
                   help=f"nsga2 population, 2..{MAX_POP_SIZE} [20]")
    p.add_argument("--seed", type=seed_type, default=0)
    p.add_argument("--ga-start", choices=GA_STARTS, default="random",
                   help="nsga2's first population: uniform random choices, or the exact plan and "
                        "one-layer substitutions of it (for deep networks) [random]")
    p.add_argument("--cost", choices=COSTS, default=None,
                   help="fames/nsga2: multiplier energy (pJ per sample, the energy flow) or area x MACs "
                        "[energy when the sky130 liberty is there, else area]")
    p.add_argument("--bias-comp", action=argparse.BooleanOptionalAction, default=True,
                   help="fames/nsga2: also consider each approximate multiplier with its mean error "
                        "folded into the layer's integer bias [on]")
    p.add_argument("--inputs", type=Path, default=None, help="input samples .npy (file models)")
    p.add_argument("--labels", type=Path, default=None, help="labels .npy (file models)")
    p.add_argument("-o", "--out", type=Path, required=True, help="plan file to write")
    p.set_defaults(func=cmd_plan)
    return p


#: an NSGA-II run evaluates the model's accuracy up to generations x population times (about
#: 0.1 s each on the reference models): 1000 x 1000 is already days
MAX_GENERATIONS = 1000
MAX_POP_SIZE = 1000


def _precision(item: str) -> tuple:
    a, x, w = item.partition("x")
    lo, hi = OP_BITS
    if not x or not a.isdigit() or not w.isdigit() or not (lo <= int(a) <= hi and lo <= int(w) <= hi):
        raise argparse.ArgumentTypeError(f"--precisions item {item[:20]!r} must be AxW with A, W in {lo}..{hi}")
    return int(a), int(w)


def parse_precisions(text: str) -> tuple:
    """The (a_bits, w_bits) options of a --precisions text such as "8x8,4x4" (no empty item)."""
    try:
        return items_type("--precisions", _precision)(text)
    except argparse.ArgumentTypeError as e:
        raise ConfigError(str(e)) from None


def cmd_plan(args) -> int:
    check_output(args.out, "plan file", folder=False)
    precisions = parse_precisions(args.precisions)
    if args.method in PRECISION_METHODS and args.budget is not None and not 0 < args.budget <= 1:
        raise ConfigError(f"--budget for {args.method} is a cost fraction in (0, 1], got {args.budget:g}")
    if args.base is not None and args.method not in MUL_METHODS:
        raise ConfigError(f"--base applies to fames and nsga2, not to {args.method}")
    base = None if args.base is None else load_plan(args.base, args.model)
    plan = run_method(args.method, args.model, args.budget, args.inputs, args.labels,
                      precisions, base, args.precision_budget, args.generations,
                      args.pop_size, args.seed, args.cost, args.bias_comp, args.ga_start)
    write_plan(args.out, plan)
    m = plan["metrics"]
    energy = f", multiplier energy {m['mul_energy_pj']:.4g} pJ per sample" if "mul_energy_pj" in m else ""
    print(f"{args.method}: accuracy {m['accuracy']:.4f}, area x MACs {m['cost_area_x_macs']:.4g}{energy}, "
          f"{m['wall_time_s']:.2f} s -> {args.out}")
    if "netlists_built" in m:
        print(f"  multiplier gate netlists: {m['netlists_built']} built, {m['netlists_reused']} from the build cache")
    for e in plan["layers"]:
        comp = ", bias compensated" if "bias_offsets" in e else ""
        print(f"  {e['name']}: a{e['a_bits']} w{e['w_bits']} {e['kind']} {e['config'].get('mul', 'exact')}{comp}")
    return 0


