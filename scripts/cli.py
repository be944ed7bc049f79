"""`quantpe` command line: generate, sim, synth, report, bench (and the technique commands).

Thin glue over the library: every command prints what it wrote. Bad input (parameters, files,
configs, missing tools) prints one line `quantpe: error: ...` and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quantpe.commands.design_args import Parser, config_from_args, design_folder, kind_subparsers
from quantpe.core.limits import bounded_float, bounded_int, cycles_type, gate_cycles_type, seed_type
from quantpe.golden.approx import SIGNED_FORMS
from quantpe.golden.atomic import check_output, staged_dir
from quantpe.golden.compressors import COMPRESSORS
from quantpe.golden.errors import QuantpeError, new_run
from quantpe.report.studies import STUDIES

__all__ = ["main"]


# -- generate ---------------------------------------------------------------------------------

def _generate_opts(p):
    p.add_argument("-o", "--out", type=Path, help="output folder [build/<design>/<config-id>]")
    p.add_argument("--no-lint", action="store_true", help="skip `verilator --lint-only -Wall`")


def _plan_args(args):
    """The plan of --plan (validated), or None; a DESIGN together with --plan is refused."""
    if getattr(args, "plan", None) is None:
        if getattr(args, "plan_out", None) is not None:
            raise QuantpeError("-o before the design applies to --plan; give it after DESIGN")
        if getattr(args, "plan_model", None) is not None:
            raise QuantpeError("--model before the design applies to --plan")
        if args.kind is None:
            raise QuantpeError("choose a DESIGN (see --help) or give --plan FILE")
        return None
    if args.kind is not None:
        raise QuantpeError("--plan gives every layer's design; drop the DESIGN argument")
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.explore.plans import load_plan
    return load_plan(args.plan, args.plan_model)


def _generate_plan(plan, out):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.explore.plans import plan_designs
    from quantpe.rtl.generate import ensure_generated, generate
    designs = plan_designs(plan)
    unique = list(dict.fromkeys(cfg for _, cfg in designs))
    if out is None:
        for cfg in unique:
            ensure_generated(cfg)
        # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
        from quantpe.core.build import design_dir
        where = {cfg: design_dir(cfg) for cfg in unique}
    else:
        with staged_dir(out) as stage:
            for cfg in unique:
                generate(cfg, stage / cfg.config_id)
            label = f"{plan['method']['name']} for {plan['model']['name']}"
            (stage / "plan-designs.json").write_text(json.dumps(
                {"plan": label, "layers": {n: c.config_id for n, c in designs}}, indent=1) + "\n")
        where = {cfg: out / cfg.config_id for cfg in unique}
    for name, cfg in designs:
        print(f"{name}: {cfg.config_id} -> {where[cfg]}")
    print(f"{len(unique)} designs for {len(designs)} layers")


def cmd_generate(args):
    plan = _plan_args(args)
    if plan is not None:
        return _generate_plan(plan, args.plan_out)
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.core.build import design_dir
    from quantpe.rtl.generate import generate
    from quantpe.sim.toolchain import lint
    cfg = config_from_args(args)
    out = args.out or design_dir(cfg)
    with staged_dir(out) as stage:
        manifest = generate(cfg, stage)
        if not args.no_lint:
            lint(stage / manifest["verilog"], manifest["top"])
    print(f"{cfg.config_id}: wrote {out / manifest['verilog']} and {out / 'manifest.json'}"
          f"{'' if args.no_lint else ' (verilator lint clean)'}")


# -- sim ----------------------------------------------------------------------------------------

def _sim_opts(p):
    p.add_argument("--sim", default="verilator", help="icarus | verilator [verilator]")
    p.add_argument("--cycles", type=cycles_type, default=10000, help="cycles of stimulus [10000]")
    p.add_argument("--seed", type=seed_type, default=None, help="stimulus seed [fresh, printed]")
    p.add_argument("--scoreboard", default="memory",
                   help="memory (HDL-memory harness) | record | per-cycle [memory]")
    p.add_argument("--waves", action="store_true", help="record a waveform (FST/VCD)")
    _design_opt(p, "simulate")


def _design_opt(p, verb):
    p.add_argument("--design", type=Path, metavar="DIR",
                   help=f"{verb} the Verilog in a folder written by `quantpe generate` (config from its "
                        f"manifest.json) instead of generating it again")


def cmd_sim(args):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.sim.regression import new_seed, regress
    from quantpe.sim.runner import SCOREBOARDS
    from quantpe.sim.toolchain import SIMULATORS
    cfg = design_folder(args)[0] or config_from_args(args)
    if args.sim not in SIMULATORS:
        raise QuantpeError(f"unknown simulator {args.sim!r} (choose from {', '.join(SIMULATORS)})")
    if args.scoreboard not in SCOREBOARDS:
        raise QuantpeError(f"unknown scoreboard {args.scoreboard!r} (choose from {', '.join(SCOREBOARDS)})")
    if args.cycles < 1:
        raise QuantpeError(f"--cycles must be >= 1, got {args.cycles}")
    seed = new_seed() if args.seed is None else args.seed
    print(f"{cfg.config_id}: regression on {args.sim}, seed {seed}", flush=True)
    r = regress(cfg, args.sim, args.cycles, seed, scoreboard=args.scoreboard, waves=args.waves,
                design=args.design)
    cov = ", ".join(f"{k}={v}" for k, v in r.coverage.items())
    print(f"PASS: {r.checked} cycles match the golden model on every output "
          f"({r.cycles_per_s:,.0f} checked cycles/s; build {r.build_s:.1f} s)")
    if cov:
        print(f"coverage: {cov}")
    print(f"run folder: {r.run_dir}")


# -- synth --------------------------------------------------------------------------------------

def _synth_opts(p):
    p.add_argument("-o", "--out", type=Path, help="output folder [build/<design>/<config-id>/synth]")
    p.add_argument("--liberty", type=Path, help="cell library (.lib or .lib.gz) [built-in]")
    _design_opt(p, "synthesise")


def _synth_plan(plan, out):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.explore.plans import plan_hardware
    from quantpe.golden.atomic import write_text
    hw = plan_hardware(plan)
    for r in hw["layers"]:
        print(f"{r['layer']}: {r['design']}: {r['pe_area_um2']:,.1f} um^2, {r['cycles']:,} cycles/sample, "
              f"multiplier {r['mul']} {r['mul_area_um2']:,.1f} um^2 x {r['macs']:,} MACs")
    t = hw["total"]
    print(f"total: {t['designs']} designs, {t['pe_area_um2']:,.1f} um^2, {t['cycles']:,} cycles/sample, "
          f"multiplier area x MACs {t['mul_area_x_macs']:,.4g}")
    if out is not None:
        path = write_text(Path(out) / "plan-area.json", json.dumps(hw, indent=1) + "\n")
        print(f"wrote {path}")


def cmd_synth(args):
    plan = _plan_args(args)
    if plan is not None:
        return _synth_plan(plan, args.plan_out)
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.core.build import design_dir
    from quantpe.rtl.generate import ensure_generated
    from quantpe.synth.area import synthesize
    cfg, manifest = design_folder(args)
    sub = "synth" if args.liberty is None else f"synth-{args.liberty.name.split('.')[0]}"
    if cfg is None:
        cfg = config_from_args(args)
        manifest = ensure_generated(cfg)
        verilog, out = design_dir(cfg) / manifest["verilog"], args.out or design_dir(cfg) / sub
    else:
        verilog = Path(manifest["verilog"])
        out = args.out or verilog.parent / sub
    area = synthesize(verilog, manifest["top"], out, liberty=args.liberty)
    ge = "n/a" if area["gate_equivalents"] is None else f"{area['gate_equivalents']:,.0f}"
    tr = "n/a" if area["transistors"] is None else f"{area['transistors']:,}"
    print(f"{cfg.config_id}: {area['area_um2']:,.1f} um^2, {ge} GE, {area['flip_flops']} flip-flops, "
          f"{tr} transistors ({Path(area['liberty']).name})")
    print(f"wrote {out / 'area.json'}")


# -- report / bench -----------------------------------------------------------------------------

def cmd_report(args):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.report.run import run_report
    only = None
    if args.only is not None:
        only = tuple(s.strip() for s in args.only.split(","))
        if not all(only):
            raise QuantpeError(f"--only must be a comma-separated list of sections without empty items, "
                               f"got {args.only[:60]!r}")
    if args.plan is not None:
        # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
        from quantpe.explore.plans import load_plan, plan_section
        if only is not None:
            raise QuantpeError("--plan reports the plan alone; drop --only")
        if args.everything:
            raise QuantpeError("--plan reports the plan alone; drop --all")
        plan = load_plan(args.plan, None if args.model is None else str(args.model))
        lines = plan_section(args.out, plan, None if args.model is None else str(args.model),
                             args.model_inputs, args.model_labels)
        print("\n".join(lines[:6]))
        print(f"wrote {args.out / 'plan.md'} and {args.out / 'plan'}/")
        return
    model = None
    if args.model is not None:
        # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
        from quantpe.explore.models import resolve_model
        model = resolve_model(str(args.model), args.model_inputs, args.model_labels)
        if model[3] is None:
            raise QuantpeError("--model needs --model-labels Y.npy (the section reports accuracies)")
    elif args.model_inputs is not None or args.model_labels is not None:
        raise QuantpeError("--model-inputs and --model-labels go with --model FILE")
    run_report(args.out, sim=args.sim, cycles=args.cycles, seed=args.seed, liberty=args.liberty, only=only,
               model=model, external_mults=args.external_mults, everything=args.everything)


def cmd_liberty(args):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.synth.cell_library import write_quantpe_liberty
    print(f"wrote {write_quantpe_liberty(args.sky130, args.out)}")


def cmd_bench(args):
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.commands.bench import bench_cluster, bench_power, bench_profile, bench_sim
    if args.what == "onnx":
        # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
        from quantpe.commands.bench_onnx import bench_onnx
        if args.json is not None:
            check_output(args.json, "--json", folder=False)
        bench_onnx(args.convs, args.size, args.images, args.seed, args.budget, args.json)
    elif args.what == "cluster":
        bench_cluster(args.variants, args.bits, args.repeat)
    elif args.what == "power":
        bench_power(args.cycles, args.seed)
    elif args.what == "profile":
        bench_profile(args.blocks, args.images, ("ranked", "greedy") if args.joint == "both" else (args.joint,),
                      args.scale, args.agreement)
    else:
        bench_sim(cycles=args.cycles, seed=args.seed)


# -- characterize -------------------------------------------------------------------------------

_METHOD_OPTS = ("t", "compensate", "hbl", "vbl", "k", "perf_rows", "perf_start", "lut", "or_cols", "signed_form",
                "compressor", "approx_cols")


def _characterize_opts(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--method", "--kind", dest="kind",
                     help="approximate multiplier method (the approxmul `method` field): exact, truncated, "
                          "broken_array (bam), drum, ssm, mitchell, perforated, lut")
    src.add_argument("--verilog", type=Path, action="append", metavar="FILE",
                     help="a combinational multiplier module (ports a, b, y) to characterise; repeat "
                          "for more files")
    p.add_argument("--top", help="module name in --verilog")
    p.add_argument("--a-bits", type=int, default=8, help="operand a width, 2..8 [8]")
    p.add_argument("--b-bits", type=int, default=8, help="operand b width, 2..8 [8]")
    p.add_argument("--signed", action="store_true", help="two's-complement operands and product")
    p.add_argument("-o", "--out", type=Path, help="output folder [characterize/<name>]")
    p.add_argument("--rtl", action="store_true", help="also simulate the generated RTL on every pair "
                   "and check it against golden (with --method)")
    p.add_argument("--sim", default="verilator", help="icarus | verilator [verilator]")
    p.add_argument("--no-area", action="store_true",
                   help="--verilog: skip synthesising the module (by default its area is measured by the "
                        "same Yosys flow as the generated units)")
    p.add_argument("--liberty", type=Path, help="--verilog: cell library for the area (.lib or .lib.gz) [built-in]")
    g = p.add_argument_group("method parameters (--method)")
    g.add_argument("--t", type=int, help="truncated: product columns < T dropped; ssm: core columns < T dropped")
    g.add_argument("--compensate", action="store_true", default=None,
                   help="truncated, ssm: add the rounded expected value of the dropped bits")
    g.add_argument("--hbl", type=int, help="broken_array: rows < HBL dropped")
    g.add_argument("--vbl", type=int, help="broken_array: columns < VBL dropped")
    g.add_argument("--k", type=int, help="drum, ssm: segment width")
    g.add_argument("--perf-rows", type=int, help="perforated: rows dropped")
    g.add_argument("--perf-start", type=int, help="perforated: first dropped row")
    g.add_argument("--or-cols", type=int, help="exact, truncated, broken_array, perforated: the lowest OR_COLS "
                   "product columns are ORed instead of added (lower-part OR)")
    g.add_argument("--signed-form", choices=SIGNED_FORMS,
                   help="signed array kinds: sign-magnitude wrapper, native two's-complement Baugh-Wooley array "
                        "or radix-4 Booth array [sign_magnitude]")
    g.add_argument("--compressor", choices=tuple(COMPRESSORS),
                   help="exact, truncated, broken_array, perforated: approximate 4:2 compressor design used in "
                        "the reduction tree's columns < APPROX_COLS")
    g.add_argument("--approx-cols", type=int, help="with --compressor: columns < APPROX_COLS use it")
    g.add_argument("--lut-path", "--lut", dest="lut", type=Path,
                   help="lut: truth table (.npy, or flat little-endian int32 .bin)")


def cmd_characterize(args):
    """Long: the options of the three characterisation modes checked and run in one place."""
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.explore.characterize import (
        approx_config,
        config_stem,
        external_area,
        external_characterize,
        external_stem,
        rtl_characterize,
        write_characterization,
    )
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.golden.approx import mul_table
    from quantpe.golden.characterize import characterize
    from quantpe.sim.toolchain import SIMULATORS
    if args.sim not in SIMULATORS:
        raise QuantpeError(f"unknown simulator {args.sim!r} (choose from {', '.join(SIMULATORS)})")
    if args.verilog is not None:
        given = [o for o in _METHOD_OPTS if getattr(args, o) is not None]
        if given or args.rtl:
            bad = ", ".join("--" + o.replace("_", "-") for o in given + (["rtl"] if args.rtl else []))
            raise QuantpeError(f"{bad} apply to --method only, not to --verilog")
        if not args.top:
            raise QuantpeError("--verilog needs --top NAME (the multiplier module)")
        if args.liberty is not None and args.no_area:
            raise QuantpeError("--liberty and --no-area exclude each other")
        if args.liberty is not None and not args.liberty.is_file():
            raise QuantpeError(f"liberty file {args.liberty} not found")
        table, metrics, res = external_characterize(args.verilog, args.top, args.a_bits, args.b_bits,
                                                    args.signed, args.sim)
        stem, c_name = external_stem(args.top, args.a_bits, args.b_bits, args.signed)
        info = {"source": "external", "verilog": [str(f) for f in args.verilog], "top": args.top,
                "a_bits": args.a_bits, "b_bits": args.b_bits, "signed": args.signed,
                "sim": {"simulator": args.sim, "cycles": res.cycles, "run_s": res.run_s,
                        "wall_s": res.wall_s, "build_s": res.build_s}}
        comment = f"measured by {args.sim} on module {args.top} ({', '.join(map(str, args.verilog))})"
        note = f"simulated {res.cycles} pairs on {args.sim} ({res.run_s:.2f} s run, build {res.build_s:.1f} s)"
        if not args.no_area:
            area = external_area(args.verilog, args.top, args.liberty)
            info["area"] = {k: area.get(k) for k in ("area_um2", "gate_equivalents", "total_cells", "cells",
                                                    "transistors", "liberty", "liberty_sha256", "yosys_version",
                                                    "abc_script")}
            note += f"; {area['area_um2']:,.1f} um^2 ({Path(area['liberty']).name}, the generated units' flow)"
    else:
        if args.top:
            raise QuantpeError("--top applies to --verilog only")
        if args.no_area or args.liberty is not None:
            raise QuantpeError("--no-area and --liberty apply to --verilog only (use `quantpe synth approxmul` "
                               "for a generated unit's area)")
        cfg = approx_config(args.kind, args.a_bits, args.b_bits, args.signed,
                            **{o: getattr(args, o) for o in _METHOD_OPTS})
        table, metrics = mul_table(cfg), characterize(cfg)
        stem, c_name = config_stem(cfg)
        info = {"source": "golden", "config_id": cfg.config_id, "config": cfg.to_dict()}
        comment = f"config {cfg.config_id}: {cfg.to_json()}"
        note = "golden"
        if args.rtl:
            r = rtl_characterize(cfg, args.sim)
            info["rtl"] = {"simulator": args.sim, "pairs": int(table.size), "matches_golden": True,
                           "metrics_equal": True, "sim_s": r.sim_s, "build_s": r.build_s, "wall_s": r.wall_s}
            note = (f"golden; RTL on {args.sim}: all {table.size} pairs match bit for bit, metrics equal "
                    f"(sim {r.sim_s:.2f} s, build {r.build_s:.1f} s, whole run {r.wall_s:.1f} s)")
    out = args.out or Path("characterize") / stem
    paths = write_characterization(out, table, args.signed, metrics, stem, c_name, info, comment)
    m = metrics
    print(f"{stem}: {note}")
    print(f"EP {m.ep:.4f}  MAE {m.mae:.4g} ({m.mae_pct:.4g}%)  WCE {m.wce} ({m.wce_pct:.4g}%)  "
          f"MRED {m.mred:.4g}  WCRE {m.wcre:.4g}  MSE {m.mse:.4g}  bias {m.bias:.4g}  std {m.std:.4g}")
    print("wrote " + ", ".join(str(p) for k, p in sorted(paths.items(), key=lambda kv: kv[0] != "json")))


def build_parser() -> argparse.ArgumentParser:
    """Long: the parser of every sub-command, one after another."""
    parser = Parser(prog="quantpe", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"quantpe {_version()}")
    parser.add_argument("-j", "--jobs", type=int, default=None,
                        help="parallel syntheses and simulations [$QUANTPE_JOBS or the machine's cores]")
    parser.add_argument("--cluster", metavar="ADDRESS", default=None,
                        help="run the parallel steps on this Dask cluster (tcp://host:port, or a scheduler "
                             "file) [$QUANTPE_CLUSTER; default: -j local processes]")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    parser.add_argument("--build", type=Path, default=None,
                        help="build cache folder [$QUANTPE_BUILD or ./build]")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    g = sub.add_parser("generate", help="write a design's Verilog and JSON manifest (or a plan's PEs)")
    kind_subparsers(g, _generate_opts, plan=True)
    g.set_defaults(func=cmd_generate)
    s = sub.add_parser("sim", help="simulate a design against the golden model (cocotb)")
    kind_subparsers(s, _sim_opts)
    s.set_defaults(func=cmd_sim)
    y = sub.add_parser("synth", help="synthesise a design with Yosys and report its area (or a plan's PEs)")
    kind_subparsers(y, _synth_opts, plan=True)
    y.set_defaults(func=cmd_synth)
    r = sub.add_parser("report", help="main job: the default design set -> reports/")
    r.add_argument("-o", "--out", type=Path, default=Path("reports"), help="report folder [reports]")
    r.add_argument("--sim", default="icarus", help="simulator for the regression [icarus]")
    r.add_argument("--cycles", type=cycles_type, default=2000, help="cycles per design [2000]")
    r.add_argument("--seed", type=seed_type, default=1, help="stimulus seed [1]")
    r.add_argument("--liberty", type=Path, default=None,
                   help="also synthesise with this real library (calibration rows) "
                        "[$QUANTPE_SHARED or ../shared: pdk/sky130hd/...tt_025C_1v80.lib.gz when present]")
    r.add_argument("--only", metavar="SECTIONS", default=None,
                   help="only these sections, comma-separated (strum, stripes, models, and the studies the "
                        "default run does not rerun: " +
                        ", ".join(f"{n} ({s.cold} cold)" for n, s in STUDIES.items()) +
                        "); the default-design table is skipped, each section's text goes to "
                        "OUT/<section>.md, a study's to its folder and to its block of OUT/README.md")
    r.add_argument("--all", dest="everything", action="store_true",
                   help="every section, the studies included (the default run's ~6 minutes cold plus the studies')")
    r.add_argument("--model", type=Path, metavar="FILE", default=None,
                   help="also evaluate this model in the models section (.onnx, or a .npz from `model import`)")
    r.add_argument("--model-inputs", type=Path, metavar="X.npy", default=None,
                   help="--model's input samples (calibration and evaluation)")
    r.add_argument("--model-labels", type=Path, metavar="Y.npy", default=None, help="--model's labels")
    r.add_argument("--external-mults", type=Path, metavar="DIR", default=None,
                   help="a folder of your multiplier Verilog (one module per .v, ports a, b, y or A, B, O): "
                        "characterised, synthesised and plotted beside the generated ones")
    r.add_argument("--plan", type=Path, metavar="FILE", default=None,
                   help="report this plan instead (per-layer PEs, area, cycles, accuracy): OUT/plan.md, OUT/plan/")
    r.set_defaults(func=cmd_report)
    lib = sub.add_parser("liberty", help="rewrite the built-in liberty with the cell areas of sky130_fd_sc_hd")
    lib.add_argument("--sky130", required=True, type=Path,
                     help="sky130_fd_sc_hd liberty (.lib or .lib.gz), e.g. tt_025C_1v80")
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.synth.liberty import DEFAULT_LIBERTY
    lib.add_argument("-o", "--out", type=Path, default=DEFAULT_LIBERTY, help="output liberty [the built-in one]")
    lib.set_defaults(func=cmd_liberty)
    c = sub.add_parser("characterize", help="exhaustive error metrics + LUT exports of a multiplier "
                       "(golden, generated RTL, or your own Verilog)")
    _characterize_opts(c)
    c.set_defaults(func=cmd_characterize)
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.commands.train_cli import add_train_parser
    add_train_parser(sub)
    b = sub.add_parser("bench", help="benchmarks (not tests)")
    bsub = b.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=Parser)
    bs = bsub.add_parser("sim", help="checked cycles/s of the scoreboards on both simulators")
    bs.add_argument("--cycles", type=cycles_type, default=100000, help="cycles per run [100000]")
    bs.add_argument("--seed", type=seed_type, default=1)
    bw = bsub.add_parser("power", help="gate-level engines behind quantpe power: numpy vs Icarus, same netlist")
    bw.add_argument("--cycles", type=gate_cycles_type, default=2000, help="trace cycles [2000]")
    bw.add_argument("--seed", type=seed_type, default=0)
    bp = bsub.add_parser("profile", help="Stripes per-layer profile of a deep model, per joint search")
    bp.add_argument("--blocks", type=bounded_int("--blocks", 0, 200), default=45,
                    help="residual blocks added to the reference CNN (weight layers = 5 + blocks) [45]")
    bp.add_argument("--images", type=bounded_int("--images", 1, 1437), default=256, help="profiling images [256]")
    bp.add_argument("--joint", choices=("ranked", "greedy", "both"), default="both", help="joint search [both]")
    bp.add_argument("--scale", type=bounded_float("--scale", 0.0, 10.0, lo_open=True), default=0.02,
                    help="block weight scale (x He-normal), in (0, 10] [0.02]")
    bp.add_argument("--agreement", action="store_true",
                    help="profile against the full-precision model's predictions instead of the labels")
    bo = bsub.add_parser("onnx", help="import and bit-exact integer inference of a large converter-style ONNX model")
    bo.add_argument("--convs", type=bounded_int("--convs", 2, 500), default=50, help="conv layers [50]")
    bo.add_argument("--size", type=bounded_int("--size", 16, 1024), default=224, help="image size [224]")
    bo.add_argument("--images", type=bounded_int("--images", 1, 1024), default=32, help="images [32]")
    bo.add_argument("--seed", type=seed_type, default=0)
    bo.add_argument("--budget", type=bounded_float("--budget", 0.0, 1.0, lo_open=True), default=0.5,
                    help="QuantuneV2 cost ceiling, a fraction of the all-8x8 cost, in (0, 1] [0.5]")
    bo.add_argument("--json", type=Path, default=None, help="write the figures, the plan and the profile here")
    bc = bsub.add_parser("cluster", help="one multiplier sweep locally and on a Dask cluster of 2 and 1 local workers")
    bc.add_argument("--variants", type=bounded_int("--variants", 2, 1000), default=32,
                    help="multipliers in the sweep [32]")
    bc.add_argument("--repeat", type=bounded_int("--repeat", 1, 20), default=3,
                    help="rounds of the local and 2-worker sweeps [3]")
    bc.add_argument("--bits", type=bounded_int("--bits", 2, 8), default=6, help="operand width [6]")
    b.set_defaults(func=cmd_bench)
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.commands.power_cli import add_power_parser
    add_power_parser(sub)
    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.commands.model_cli import add_model_parser
    from quantpe.commands.plan_cli import add_plan_parser
    add_model_parser(sub)
    add_plan_parser(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("quantpe")
    except PackageNotFoundError:
        return "unknown"


def _check_outputs(args) -> None:
    """Refuse an unusable output path (-o) before the command does any work (quantpe.golden.atomic)."""
    for attr in ("out", "plan_out"):
        v = getattr(args, attr, None)
        if isinstance(v, Path):
            check_output(v)


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 verification failure, 2 bad input,
    3 missing or broken tool, 130 interrupted). One line on stderr for every failure; --debug
    adds the traceback.
    Long: every exit-status rule of the command line in one place."""
    import contextlib
    import os
    import traceback

    # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
    from quantpe.core import interrupt
    from quantpe.core.settings import configure
    interrupt.install()
    new_run()
    args = table_store = None
    try:
        args = build_parser().parse_args(argv)
        jobs = args.jobs if args.jobs is not None else os.environ.get("QUANTPE_JOBS")
        if jobs is not None and (not str(jobs).isdigit() or int(jobs) < 1):
            raise QuantpeError(f"--jobs must be a whole number >= 1, got {jobs}")
        configure(jobs=None if jobs is None else int(jobs), quiet=args.quiet)
        if args.build is not None:
            os.environ["QUANTPE_BUILD"] = str(args.build.resolve())
        # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
        from quantpe.core.table_store import use_build_table_store
        table_store = use_build_table_store()   # the multiplier library's tables, shared by every run
        _check_outputs(args)
        cluster = args.cluster or os.environ.get("QUANTPE_CLUSTER")
        if cluster:                   # every worker must have the liberties this run may read
            # lazy: a command's modules load when it runs (`quantpe --help` stays fast)
            from quantpe.core.executor import use_cluster
            from quantpe.synth.liberty import DEFAULT_LIBERTY, sky130_liberty
            use_cluster(cluster, liberties=(DEFAULT_LIBERTY, sky130_liberty()))
        args.func(args)
    except QuantpeError as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        first, *rest = str(e).splitlines() or [""]
        if e.exit_code == 1:          # verification failure: the whole mismatch summary
            print(f"quantpe: FAIL: {first}", *rest, sep="\n", file=sys.stderr)
        else:
            print(f"quantpe: error: {first}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        interrupt.end_children()
        interrupt.report()
        return 130
    except RecursionError:
        print("quantpe: error: input nested too deeply", file=sys.stderr)
        return 2
    except BrokenPipeError:     # `quantpe ... | head`: the reader left; stop quietly like other tools
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:        # a write the command did not expect to fail: full disk, quota, I/O error
        if getattr(args, "debug", False):
            traceback.print_exc()
        out = getattr(args, "out", None) or getattr(args, "plan_out", None)
        where = e.filename or out or os.environ.get("QUANTPE_BUILD") or "build"
        print(f"quantpe: error: cannot write {where}: {e.strerror or e}", file=sys.stderr)
        return 3
    except Exception as e:      # a bug: one line (the traceback with --debug)
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"quantpe: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 4
    finally:
        interrupt.uninstall()
        if table_store is not None:          # the caller's (a test's, an API user's) store again
            table_store.restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
