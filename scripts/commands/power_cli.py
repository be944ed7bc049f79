"""`quantpe power DESIGN`: the command's parser and its run (`quantpe.power.measure`)."""
from __future__ import annotations

import shutil
from pathlib import Path

from quantpe.commands.design_args import config_from_args, kind_subparsers
from quantpe.core.build import build_root
from quantpe.core.kinds import stimulus_for
from quantpe.core.limits import MAX_GATE_CYCLES, clock_type, gate_cycles_type, seed_type
from quantpe.explore.models import model_file
from quantpe.golden.atomic import first_missing
from quantpe.golden.errors import QuantpeError
from quantpe.power.measure import DELAY_MODELS, measure_power
from quantpe.synth.liberty import sky130_path
from quantpe.tb.power_traces import MODELS, real_trace


def add_power_parser(subparsers) -> None:
    """`quantpe power DESIGN [design options] --stimulus real|random --cycles N --seed S`."""
    p = subparsers.add_parser("power", help="power/energy from gate-level toggles (sky130 liberty tables)")

    def opts(q):
        q.add_argument("--stimulus", default="real", help="real (digits-model trace) | random [real]")
        q.add_argument("--model", default="mlp", help="the real trace's model: mlp | cnn (digits) | an .onnx "
                       "or .npz model file with --model-inputs [mlp]")
        q.add_argument("--model-inputs", type=Path, help="the model file's samples (X.npy): its real trace")
        q.add_argument("--cycles", type=gate_cycles_type, default=10000,
                       help=f"cycles of stimulus, 2..{MAX_GATE_CYCLES:,} [10000]")
        q.add_argument("--seed", type=seed_type, default=1, help="stimulus seed [1]")
        q.add_argument("--clock-mhz", type=clock_type, default=100.0, help="clock frequency [100]")
        q.add_argument("--liberty", type=Path, default=sky130_path(), help=f"liberty [{sky130_path()}]")
        q.add_argument("--delay", default="zero", help="gate delay model: zero | unit | liberty (the "
                       "liberty's cell delays); unit and liberty count glitches and report the difference "
                       "vs zero-delay [zero]")
        q.add_argument("-o", "--out", type=Path, help="output folder [<build>/power/<config-id>]")
    kind_subparsers(p, opts)
    p.set_defaults(func=cmd_power)


def cmd_power(args) -> None:
    cfg = config_from_args(args)
    if not Path(args.liberty).is_file():
        raise QuantpeError(f"liberty file {args.liberty} not found")
    if args.delay not in DELAY_MODELS:
        raise QuantpeError(f"unknown --delay {args.delay!r} ({' | '.join(DELAY_MODELS)})")
    if args.model != "mlp" and args.stimulus != "real":
        raise QuantpeError("--model chooses the real trace's model: it needs --stimulus real")
    model = args.model
    if model not in MODELS:
        model = str(model_file(Path(model)))
        if args.model_inputs is None:
            raise QuantpeError(f"--model {args.model} needs --model-inputs X.npy (its samples)")
        if not args.model_inputs.is_file():
            raise QuantpeError(f"samples file {args.model_inputs} not found")
    elif args.model_inputs is not None:
        raise QuantpeError(f"--model-inputs applies to a model file; {model} uses the digits split")
    if args.stimulus == "random":
        inputs, _ = stimulus_for(cfg, args.cycles, args.seed)
    elif args.stimulus == "real":
        inputs = real_trace(cfg, args.cycles, args.seed, model,
                            None if args.model_inputs is None else str(args.model_inputs))
    else:
        raise QuantpeError(f"unknown stimulus {args.stimulus!r} (real | random)")
    out = args.out or build_root() / "power" / cfg.config_id
    created = first_missing(out.absolute())
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    try:
        r = measure_power(cfg, inputs, out_dir=out, liberty=args.liberty, clock_mhz=args.clock_mhz,
                          stimulus=args.stimulus if args.model == "mlp" else f"{args.stimulus}-{Path(model).stem}",
                          delay=args.delay)
    except BaseException:              # nothing of a failed run stays: its rtl/ and gate/ folders go
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        else:
            for p in out.iterdir():
                if p.name not in before and p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
        raise
    print(f"{cfg.config_id} ({args.stimulus}, {r['cycles']} cycles, gate outputs == golden on every cycle): "
          f"{r['total_mw']:.4f} mW at {args.clock_mhz:g} MHz (switching {r['switching_mw']:.4f}, internal "
          f"{r['internal_mw']:.4f}, leakage {r['leakage_mw']:.6f}); {r['energy_per_cycle_pj']:.3f} pJ/cycle, "
          f"{r['energy_per_op_pj']:.4f} pJ/{r['op_unit']}; {r['times_s']['total_s']:.1f} s; "
          f"wrote {out / 'power.json'}")
    if args.delay != "zero":
        z = r["zero_delay"]
        print(f"{args.delay} delay: {r['toggles']} toggles (zero-delay {z['toggles']}, {r['glitch_toggles_pct']:+.1f} %), "
              f"{r['total_mw']:.4f} mW (zero-delay {z['total_mw']:.4f} mW, {r['glitch_power_pct']:+.1f} %), "
              f"settled in at most {r['delay_steps']} steps per cycle")
