"""`quantpe train`: limited-precision training of the digits MLP in <IL,FL> fixed point (golden).

  quantpe train --rounding stochastic --wl 16 --fl 8     one fixed-point run next to the float
                                                         baseline (same seed, epochs, lr)
  quantpe train --experiment [--long]                    the whole experiment -> OUT/fxp/training.*
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from quantpe.golden.atomic import write_text
from quantpe.golden.errors import QuantpeError
from quantpe.golden.fixedpoint import FixedFormat
from quantpe.golden.fxp_train import (
    DEFAULT_ACT_ILS,
    DEFAULT_POINTS,
    LONG_POINTS,
    TrainSetup,
    run_experiment,
    train_fixed,
)
from quantpe.report.fxp import write_training

__all__ = ["add_train_parser", "cmd_train"]

ROUNDINGS = ("nearest", "stochastic", "truncate", "both")


def add_train_parser(subparsers) -> None:
    d = TrainSetup()
    t = subparsers.add_parser("train", help="train the digits MLP in <IL,FL> fixed point with nearest or "
                              "stochastic rounding (golden)")
    t.add_argument("--rounding", default="both",
                   help=f"{' | '.join(ROUNDINGS)} [both = nearest and stochastic]")
    t.add_argument("--wl", type=int, default=16, help="word length IL + FL, <= 32 [16]")
    t.add_argument("--fl", type=int, default=8, help="fractional bits [8]")
    t.add_argument("--act-il", type=int, default=None,
                   help="integer bits of activations and errors (same FL) [same format as the weights]")
    t.add_argument("--epochs", type=int, default=d.epochs, help=f"[{d.epochs}]")
    t.add_argument("--lr", type=float, default=d.lr, help=f"SGD learning rate [{d.lr}]")
    t.add_argument("--batch-size", type=int, default=d.batch_size, help=f"[{d.batch_size}]")
    t.add_argument("--seed", type=int, default=d.seed,
                   help=f"initialisation, shuffle and rounding seed [{d.seed}]")
    t.add_argument("--experiment", action="store_true", help="run the whole experiment (float + every "
                   "default WL/FL point x nearest/stochastic x activation format) and write "
                   "OUT/fxp/training.*")
    t.add_argument("--long", action="store_true", help="with --experiment: the long sweep (WL 8..16, "
                   "every FL 2..WL-2)")
    t.add_argument("-o", "--out", type=Path, default=Path("reports"), help="report folder [reports]")
    t.set_defaults(func=cmd_train)


def _line(r) -> str:
    return (f"{r.label:30s} final test acc {r.final_accuracy:.4f}  updates rounded to zero "
            f"{r.updates_zeroed:,}/{r.updates_proposed:,} ({100 * r.zeroed_fraction:.1f}%)  "
            f"applied/proposed {r.update_applied_ratio:.3f}  ({r.seconds:.1f} s)")


def cmd_train(args) -> None:
    setup = TrainSetup(seed=args.seed, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)

    def progress(r):
        print(_line(r), flush=True)

    if args.experiment:
        if args.long:
            points = LONG_POINTS
        else:
            points = DEFAULT_POINTS
        runs = run_experiment(points, act_ils=DEFAULT_ACT_ILS, setup=setup, progress=progress)
        command = "quantpe " + " ".join(sys.argv[1:]) if sys.argv[1:] else "quantpe train --experiment"
        for p in write_training(args.out, runs, setup, command):
            print(f"wrote {p}")
        return
    if args.long:
        raise QuantpeError("--long applies to --experiment only")
    if args.rounding not in ROUNDINGS:
        raise QuantpeError(f"--rounding must be one of {', '.join(ROUNDINGS)}, got {args.rounding!r}")
    fmt = FixedFormat.from_wl(args.wl, args.fl)
    if args.act_il is not None:
        FixedFormat(args.act_il, args.fl)
    modes = ("nearest", "stochastic") if args.rounding == "both" else (args.rounding,)
    runs = [train_fixed(None, None, setup)]
    progress(runs[0])
    for mode in modes:
        runs.append(train_fixed(fmt, mode, setup, act_il=args.act_il))
        progress(runs[-1])
    out = args.out / "fxp"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QuantpeError(f"cannot create {out}: {e.strerror}") from None
    path = out / (f"train-wl{args.wl}-fl{args.fl}-{args.rounding}"
                  + (f"-act{args.act_il}" if args.act_il is not None else "") + ".json")
    import dataclasses
    write_text(path, json.dumps({"setup": dataclasses.asdict(setup), "runs": [r.to_dict() for r in runs]},
                                  indent=1) + "\n")
    print(f"wrote {path}")
