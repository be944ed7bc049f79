"""Exhaustive multiplier characterization: golden, RTL (our generators) and external Verilog.

Three sources of a truth table T[a_pattern, b_pattern] (layout of `quantpe.golden.characterize`):
  golden    `mul_table(cfg)` of an `ApproxMulConfig`
  RTL       `rtl_characterize(cfg, sim)`: the generated multiplier simulated on every input pair
            in one run (pair p = a_pattern * 2^b_bits + b_pattern is driven during cycle p, the
            product read in the same cycle: combinational), checked bit for bit against the golden
            table by the harness scoreboard, then characterised from the *RTL* outputs; the
            metrics must equal the golden ones (SimulationFailed otherwise)
  external  `external_characterize(files, top, a_bits, b_bits, signed, sim)`: a user's
            combinational module with ports a (a_bits), b (b_bits), y (>= a_bits + b_bits bits),
            all read as signed when `signed`; characterised against the exact product
`write_characterization` writes <stem>.json, <stem>.npy, <stem>.bin (int32 little-endian,
row-major), <stem>.h and, at 8x8, the TFApprox or AdaPT layout into a folder, all or nothing.
`external_area` synthesises an external module through the same flow as the generated units.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quantpe.core.build import build_root, design_dir
from quantpe.core.jobs import parallel_map
from quantpe.golden.approx import (
    ApproxMulConfig,
    check_op_widths,
    exhaustive_inputs,
    mul_table,
    operand_values,
    table_from_outputs,
)
from quantpe.golden.atomic import staged_dir, write_text
from quantpe.golden.characterize import MulCharacterization, characterize, characterize_table
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.lut_export import (
    default_c_name,
    write_bin,
    write_c_header,
    write_emulator_luts,
    write_npy,
)
from quantpe.rtl.approx_bank import MultiplierBank
from quantpe.rtl.generate import ensure_generated, to_verilog
from quantpe.rtl.ports import Port, ports_of
from quantpe.sim.capture import capture
from quantpe.sim.runner import SimulationFailed, run
from quantpe.synth.area import verilog_digest
from quantpe.synth.flow import synth_verilog
from quantpe.synth.ports import verilog_ports
from quantpe.tb.memfile import hex_to_streams

__all__ = ["KIND_ALIASES", "approx_config", "exhaustive_inputs", "table_from_outputs", "RtlCharacterization",
           "BankCheck", "rtl_check_variants",
           "rtl_characterize", "external_characterize", "external_area", "external_units", "ExternalUnit", "write_characterization", "MAX_Y_BITS",
           "config_stem", "external_stem"]

# --kind spellings accepted by the CLI -> ApproxMulConfig.method
KIND_ALIASES = {"exact": "exact", "truncated": "truncated", "trunc": "truncated",
                "broken_array": "broken_array", "broken-array": "broken_array", "bam": "broken_array",
                "drum": "drum", "ssm": "ssm", "mitchell": "mitchell", "perforated": "perforated", "lut": "lut"}
MAX_Y_BITS = 62        # external modules: widest product port read back (int64 with margin)


def approx_config(kind: str, a_bits: int = 8, b_bits: int = 8, signed: bool = False, *,
                  t=None, compensate=None, hbl=None, vbl=None, k=None, perf_rows=None,
                  perf_start=None, lut=None, or_cols=None, signed_form=None, compressor=None,
                  approx_cols=None) -> ApproxMulConfig:
    """The validated ApproxMulConfig of a CLI --kind and its parameters (None = not given).

    A parameter the method does not use is an error (ConfigError), as are widths outside 2..8
    and out-of-range parameters; `lut` is a .npy or flat int32 .bin file path.
    """
    method = KIND_ALIASES.get(kind)
    if method is None:
        raise ConfigError(f"unknown multiplier kind {kind!r} (choose from {', '.join(sorted(set(KIND_ALIASES.values())))})")
    fields = {"t": t, "compensate": compensate, "hbl": hbl, "vbl": vbl, "k": k,
              "perf_rows": perf_rows, "perf_start": perf_start, "or_cols": or_cols, "signed_form": signed_form,
              "compressor": compressor, "approx_cols": approx_cols,
              "lut_path": None if lut is None else str(lut)}
    if method == "lut" and lut is None:
        raise ConfigError("method lut needs --lut-path FILE (.npy or flat little-endian int32 .bin)")
    needed = {"truncated": ("t",), "broken_array": ("hbl", "vbl"), "drum": ("k",), "ssm": ("k",),
              "perforated": ("perf_rows",)}.get(method, ())
    missing = [n for n in needed if fields[n] is None]
    if method == "broken_array" and len(missing) == 1:
        missing = []                         # one break level is enough; the other stays 0
    if missing:
        raise ConfigError(f"method {method} needs " + " and ".join("--" + n.replace("_", "-") for n in missing)
                          + " (without it the multiplier would be exact)")
    given = {name: v for name, v in fields.items() if v is not None}
    return ApproxMulConfig(method=method, a_bits=a_bits, b_bits=b_bits, signed=bool(signed), **given)


@dataclass
class RtlCharacterization:
    table: np.ndarray                 # measured on the RTL
    metrics: MulCharacterization      # computed from `table` (equal to the golden metrics)
    sim: str
    build_s: float                    # simulator build (about 0 when reused)
    sim_s: float                      # free-running simulation + read-back + golden comparison
    wall_s: float                     # the whole run() call (generation, build, simulator start, check)
    run_dir: Path


def rtl_characterize(cfg: ApproxMulConfig, sim: str = "verilator") -> RtlCharacterization:
    """Simulate the RTL of `cfg` on every input pair in one run and characterise its outputs.

    Raises SimulationFailed when any product differs from the golden table or the metrics
    computed from the RTL outputs differ from the golden ones.
    """
    if not isinstance(cfg, ApproxMulConfig):
        raise QuantpeError(f"rtl_characterize needs an ApproxMulConfig, got {type(cfg).__name__}")
    if cfg.method == "lut" and not cfg.lut_path:
        # the cocotb process rebuilds the config from JSON: give an in-memory table a file
        path = write_npy(design_dir(cfg) / "lut.npy", cfg.lut_table)
        cfg = cfg.replace(lut_path=str(path))
    inputs = exhaustive_inputs(cfg.a_bits, cfg.b_bits, cfg.signed)
    T = len(inputs["a"])
    t0 = time.perf_counter()
    r = run(cfg, sim, inputs, seed=0, name=f"exhaustive-{sim}")
    wall_s = time.perf_counter() - t0
    y_port = next(Port(**p) for p in ensure_generated(cfg)["ports"] if p["name"] == "y")
    y = hex_to_streams((r.run_dir / "capture.hex").read_text(), [y_port], T)["y"]
    table = table_from_outputs(y, cfg.a_bits, cfg.b_bits)
    golden = mul_table(cfg)
    if not np.array_equal(table, golden):        # run() already compared every cycle; belt and braces
        bad = np.argwhere(table != golden)[0]
        raise SimulationFailed(f"{cfg.config_id}: RTL product at pattern {tuple(bad)} is {table[tuple(bad)]}, "
                               f"golden {golden[tuple(bad)]}")
    metrics = characterize_table(table, cfg.signed)
    want = characterize(cfg)
    if metrics.to_dict() != want.to_dict() or not np.array_equal(metrics.error, want.error):
        raise SimulationFailed(f"{cfg.config_id}: RTL metrics {metrics.to_dict()} differ from golden {want.to_dict()}")
    return RtlCharacterization(table, metrics, sim, r.build_s, r.sim_s, wall_s, r.run_dir)


@dataclass
class BankCheck:
    """One exhaustive RTL run of a `MultiplierBank`: every variant matched golden on every pair."""
    a_bits: int
    b_bits: int
    signed: bool
    config_ids: list          # the variants, in bank order
    pairs: int                # input pairs per variant (all of them)
    build_s: float
    sim_s: float              # the simulator run (start-up, simulation, capture file)
    run_dir: Path


BANK_MAX = 48      # variants per bank: one 234-variant 8x8 bank took > 30 min to compile under load


def rtl_check_variants(cfgs, sim: str = "verilator") -> list[BankCheck]:
    """Every input pair of every variant on the RTL, one simulator build per (widths, signedness)
    and chunk of at most BANK_MAX variants (in the given order); the chunks build and run in
    parallel (`quantpe.core.jobs.parallel_map`, -j).

    The variants of a group run side by side in a `quantpe.rtl.approx_bank.MultiplierBank` on
    shared operands, so 40 8x8 designs cost one build and one 65,536-cycle run instead of 40.
    Raises SimulationFailed at the first variant whose RTL product differs from its golden table,
    naming the pair and the single-variant command that reruns it with a waveform.
    """
    groups: dict = {}
    for c in cfgs:
        if not isinstance(c, ApproxMulConfig):
            raise QuantpeError(f"rtl_check_variants needs ApproxMulConfig, got {type(c).__name__}")
        groups.setdefault((c.a_bits, c.b_bits, c.signed), []).append(c)
    chunks = [(key, tuple(group[i:i + BANK_MAX]), sim) for key, group in groups.items()
              for i in range(0, len(group), BANK_MAX)]
    return parallel_map(_check_bank, chunks, desc="multiplier banks",
                        resources={"verilator": 1} if sim == "verilator" else None)


def _check_bank(item) -> BankCheck:
    (na, nb, sgn), group, sim = item
    bank = MultiplierBank(list(group))
    text = to_verilog(bank, "bank", emit_src=True)
    d = build_root() / "approxmul-banks" / hashlib.sha256(text.encode()).hexdigest()[:16]
    d.mkdir(parents=True, exist_ok=True)
    v = d / "bank.v"               # the folder is named by the text's hash
    if not v.exists():
        write_text(v, text)
    res = capture([v], "bank", ports_of(bank), exhaustive_inputs(na, nb, sgn), sim)
    y = np.asarray(res.outputs["y"], dtype=np.int64)
    for i, c in enumerate(group):
        table = table_from_outputs(y[:, i], na, nb)
        golden = mul_table(c)
        if not np.array_equal(table, golden):
            pa, pb = np.argwhere(table != golden)[0]
            a, b = operand_values(na, sgn)[pa], operand_values(nb, sgn)[pb]
            ensure_generated(c)
            raise SimulationFailed(
                f"{c.config_id}: RTL product of a={a} b={b} is {table[pa, pb]}, golden {golden[pa, pb]} "
                f"({int(np.sum(table != golden))} of {table.size} pairs differ; bank run {res.run_dir})\n"
                f"  rerun with a waveform: quantpe sim approxmul --config "
                f"{design_dir(c) / 'manifest.json'} --sim {sim} --waves")
    return BankCheck(na, nb, sgn, [c.config_id for c in group], int(y.shape[0]), res.build_s,
                     res.wall_s, res.run_dir)


PORT_NAMES = (("a", "b", "y"), ("A", "B", "O"))    # ours; EvoApprox's mul8u_*/mul8s_* modules


def external_characterize(files, top: str, a_bits: int, b_bits: int, signed: bool = False,
                          sim: str = "verilator"):
    """Simulate a user's combinational multiplier on every input pair; characterise it.

    Module `top` in `files` must have exactly the ports a (input, a_bits wide), b (input,
    b_bits wide) and y (output, a_bits + b_bits .. 62 bits), or A, B and O (EvoApprox's names);
    a, b and y are two's complement when `signed`. Returns (table, MulCharacterization,
    CaptureResult).
    """
    check_op_widths(a_bits, b_bits)
    if not isinstance(top, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise QuantpeError(f"--top must be a Verilog module name, got {top!r}")
    files = [Path(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
    ports = verilog_ports(files, top)
    na, nb, ny = next((names for names in PORT_NAMES if set(names) == set(ports)), PORT_NAMES[0])
    want = {na: ("in", a_bits), nb: ("in", b_bits)}
    missing = [n for n in (na, nb, ny) if n not in ports]
    if missing:
        raise QuantpeError(f"module {top} lacks port(s) {', '.join(missing)} (needs inputs a, b and output y)")
    extra = sorted(set(ports) - {na, nb, ny})
    if extra:
        raise QuantpeError(f"module {top} has port(s) {', '.join(extra)} besides a, b, y "
                           f"(a combinational multiplier has only a, b, y)")
    for n, (d, w) in want.items():
        if ports[n] != (d, w):
            raise QuantpeError(f"module {top}: port {n} is {ports[n][0]}put {ports[n][1]} bits, "
                               f"expected input {w} bits (--{n.lower()}-bits {w})")
    yd, yw = ports[ny]
    if yd != "out" or not a_bits + b_bits <= yw <= MAX_Y_BITS:
        raise QuantpeError(f"module {top}: port {ny} is {yd}put {yw} bits, expected output of "
                           f"{a_bits + b_bits}..{MAX_Y_BITS} bits")
    pl = [Port(na, "in", a_bits, 1, bool(signed)), Port(nb, "in", b_bits, 1, bool(signed)),
          Port(ny, "out", yw, 1, bool(signed))]
    inputs = exhaustive_inputs(a_bits, b_bits, signed)
    res = capture(files, top, pl, {na: inputs["a"], nb: inputs["b"]}, sim)
    table = table_from_outputs(res.outputs[ny], a_bits, b_bits)
    return table, characterize_table(table, signed), res


def write_characterization(out_dir, table, signed: bool, metrics: MulCharacterization, stem: str,
                           c_name: str, info: dict, comment: str = "") -> dict[str, Path]:
    """Write <stem>.json (info + metrics), <stem>.npy, <stem>.bin and <stem>.h into `out_dir`,
    plus <stem>.tfapprox.bin (unsigned 8x8) or <stem>.adapt.h (signed 8x8), the emulators' own
    layouts (`quantpe.golden.lut_export`).

    All files are written to a staging folder first and moved in only when every one of them
    succeeded, so a failure leaves nothing half-written. Returns {"json", "npy", "bin", "h", ...}.
    """
    with staged_dir(Path(out_dir)) as stage:
        paths = {"npy": write_npy(stage / f"{stem}.npy", table),
                 "bin": write_bin(stage / f"{stem}.bin", table),
                 "h": write_c_header(stage / f"{stem}.h", table, c_name, signed, comment),
                 **write_emulator_luts(stage, stem, table, signed)}
        layout = ("entry [a_pattern, b_pattern], flat index a_pattern * 2^b_bits + b_pattern; "
                  ".bin int32 little-endian")
        if "tfapprox" in paths:
            layout += "; .tfapprox.bin uint16 little-endian, index a * 256 + b (TFApprox)"
        if "adapt" in paths:
            layout += "; .adapt.h const int16_t lut[a_pattern][b_pattern] (AdaPT)"
        doc = {**info, "metrics": metrics.to_dict(),
               "files": {k: Path(p).name for k, p in paths.items()}, "layout": layout}
        paths["json"] = write_text(stage / f"{stem}.json", json.dumps(doc, indent=2) + "\n")
        names = {k: Path(p).name for k, p in paths.items()}
    return {k: Path(out_dir) / n for k, n in names.items()}


def external_area(files, top: str, liberty: Path | None = None) -> dict:
    """Area dict of a user's module through the project's synthesis flow (same script, same
    liberty as every generated unit), cached under <build>/external/<sources sha>/."""
    files = [Path(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
    out = build_root() / "external" / f"{top}-{verilog_digest(files)[:16]}"
    return synth_verilog(files, top, out, liberty)


def config_stem(cfg: ApproxMulConfig) -> tuple[str, str]:
    """(file stem, C identifier) of a config's outputs."""
    return cfg.config_id, default_c_name(cfg)


def external_stem(top: str, a_bits: int, b_bits: int, signed: bool) -> tuple[str, str]:
    stem = f"{top}-{'i' if signed else 'u'}{a_bits}x{b_bits}"
    return stem, re.sub(r"[^A-Za-z0-9_]", "_", stem).upper()


_EVOAPPROX = re.compile(r"^mul(\d+)([su])_")


@dataclass(frozen=True)
class ExternalUnit:
    """One user-supplied multiplier measured like a generated one: exhaustive metrics + area."""

    name: str
    path: Path
    a_bits: int
    b_bits: int
    signed: bool
    metrics: MulCharacterization
    area_um2: float


def _module_of(path: Path) -> str:
    names = re.findall(r"^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)", path.read_text(errors="replace"), re.M)
    if path.stem in names:
        return path.stem
    if len(names) != 1:
        raise QuantpeError(f"{path}: cannot tell the multiplier module (name it like the file, or keep one "
                           f"module per file; found {', '.join(names) or 'none'})")
    return names[0]


def external_units(folder, sim: str = "icarus", liberty: Path | None = None) -> list[ExternalUnit]:
    """Characterise and synthesise every `*.v` in `folder` (one multiplier per file, module named
    like the file or the file's only module; ports a, b, y or A, B, O; widths from the ports,
    2..8 bits). Signed when the operand ports are declared `signed` or the module is named like
    EvoApprox's signed units (`mul<N>s_...`). Results are cached like every synthesis."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QuantpeError(f"external multiplier folder {folder} not found")
    files = sorted(folder.glob("*.v"))
    if not files:
        raise QuantpeError(f"no .v files in {folder}")
    units = []
    for f in files:
        top = _module_of(f)
        ports = verilog_ports([f], top, signed_too=True)
        na, nb, _ = next((n for n in PORT_NAMES if set(n) == set(ports)), PORT_NAMES[0])
        if na not in ports or nb not in ports:
            raise QuantpeError(f"{f}: module {top} needs ports a, b, y (or A, B, O)")
        evo = _EVOAPPROX.match(top)
        signed = bool(ports[na][2] and ports[nb][2]) or (evo is not None and evo.group(2) == "s")
        table, metrics, _ = external_characterize([f], top, ports[na][1], ports[nb][1], signed, sim)
        units.append(ExternalUnit(top, f, ports[na][1], ports[nb][1], signed, metrics,
                                  float(external_area([f], top, liberty)["area_um2"])))
    return units

