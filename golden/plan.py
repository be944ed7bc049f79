"""Per-layer hardware plans: the plan file (schema "quantpe.plan/1"), validation and the model under it.

A plan is JSON (UTF-8, sorted keys) of this shape:

    {"schema": "quantpe.plan/1",
     "model": {"name": "cnn", "sha256": "<graph_sha256 of the float model>"},
     "method": {"name": "quantune", "settings": {...}},          # how it was made (free-form)
     "layers": [{"name": "conv1", "a_bits": 8, "w_bits": 4, "kind": "approxpe",
                 "config": {"mul": "truncated:t=4"}, "macs": 9216}, ...]}

`layers` lists every weight layer (Conv2d / Linear) of the model, in graph order. a_bits is the
width of the codes the layer's multipliers see (2..16, `qgraph.build_qgraph`), w_bits the
weight width (2..16). kind "baseline": exact products (config {}); kind "approxpe": one
multiplier per MAC, `config.mul` a multiplier spec (`approx_pe.parse_mul_spec`, e.g. "exact",
"truncated:t=4", "drum:k=3") for signed a_bits x w_bits operands; a non-exact spec needs both
widths in the library's MIN_OP_BITS..MAX_OP_BITS (2..8). macs: multiplications per sample.
Optional per layer: "bias_offsets", one integer per output channel added to the layer's integer
bias codes (the bias compensation of its multiplier, `bias_comp`; |offset| < 2^31). Optional
"metrics" (free-form measured figures) may be present.

Every defect is a ConfigError with one line: bad JSON, wrong schema, another model (sha256),
layer count or name mismatch, unknown kind, a width or spec the multiplier library lacks.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from .approx import MAX_OP_BITS, MIN_OP_BITS, approx_mul
from .approx_pe import parse_mul_spec
from .errors import ConfigError, QuantpeError
from quantpe.golden.layers import Conv2d, Linear
from quantpe.golden.qgraph import QGraph, build_qgraph
from quantpe.golden.graph import Graph
from .quantize import MAX_BITS, MIN_BITS

__all__ = ["SCHEMA", "KINDS", "graph_sha256", "layer_macs", "make_plan", "layer_entry", "plan_text",
           "parse_plan", "validate_plan", "check_plan_model", "plan_widths", "plan_mul_config",
           "apply_plan", "with_plan_muls"]

SCHEMA = "quantpe.plan/1"
BIAS_OFFSET_LIMIT = (1 << 31) - 1      # a bias offset fits the default 32-bit accumulator
KINDS = ("baseline", "approxpe")


def graph_sha256(graph: Graph) -> str:
    """SHA-256 of the float model: structure (names, ops, inputs, attributes) and every parameter's
    float64 bytes, in graph order."""
    h = hashlib.sha256()
    struct = [[nd.name, nd.layer.op, list(nd.inputs), repr(sorted(nd.layer.attrs().items()))]
              for nd in graph.nodes]
    h.update(json.dumps([list(graph.input_shape), graph.output, struct]).encode())
    for (name, p), a in graph.params().items():
        h.update(f"{name}.{p}{a.shape}".encode())
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def layer_macs(graph: Graph) -> dict:
    """{weight layer: multiplications per sample} (conv: out positions x O x K/groups lowered;
    Linear: O x K per position of its (..., K) input)."""
    out = {}
    for nd in graph.nodes:
        lay = nd.layer
        if isinstance(lay, Conv2d):
            _, oh, ow = graph.shapes[nd.name]
            out[nd.name] = int(oh * ow * lay.out_channels * lay.cg * lay.taps)
        elif isinstance(lay, Linear):                   # (..., K) -> (..., O): every leading position
            out[nd.name] = int(lay.weight.size * np.prod(graph.shapes[nd.inputs[0]][:-1]))
    return out


def layer_entry(name: str, a_bits: int, w_bits: int, mul: str = "exact", macs: int = 0,
                bias_offsets=None) -> dict:
    """One plan row; mul "exact" gives kind "baseline", anything else kind "approxpe";
    bias_offsets: (O,) integers added to the layer's bias codes (`bias_comp`), or None."""
    if mul == "exact":
        row = dict(name=name, a_bits=int(a_bits), w_bits=int(w_bits), kind="baseline", config={},
                   macs=int(macs))
    else:
        row = dict(name=name, a_bits=int(a_bits), w_bits=int(w_bits), kind="approxpe",
                   config={"mul": mul}, macs=int(macs))
    if bias_offsets is not None:
        row["bias_offsets"] = [int(v) for v in bias_offsets]
    return row


def make_plan(model_name: str, graph: Graph, method: str, settings: dict, layers: list,
              metrics: dict | None = None) -> dict:
    """A validated plan; `layers` = [(a_bits, w_bits, mul spec[, bias offsets or None])] per weight
    layer in graph order."""
    names, macs = graph.weight_layers, layer_macs(graph)
    if len(layers) != len(names):
        raise ConfigError(f"plan needs {len(names)} layers, got {len(layers)}")
    plan = {"schema": SCHEMA, "model": {"name": str(model_name), "sha256": graph_sha256(graph)},
            "method": {"name": str(method), "settings": dict(settings)},
            "layers": [layer_entry(n, *row[:3], macs[n], *row[3:]) for n, row in zip(names, layers)]}
    if metrics:
        plan["metrics"] = dict(metrics)
    validate_plan(plan, graph)
    return plan


def plan_text(plan: dict) -> str:
    """Canonical JSON text of a plan (sorted keys, one trailing newline)."""
    return json.dumps(plan, indent=1, sort_keys=True, allow_nan=False) + "\n"


def parse_plan(text: str, graph: Graph | None = None) -> dict:
    """Plan from JSON text, validated (and checked against `graph` when given)."""
    try:
        plan = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise ConfigError(f"plan file is not valid JSON: {e}") from None
    validate_plan(plan, graph)
    return plan


def _int(v, lo, hi, what):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(f"plan: {what} must be an integer in {lo}..{hi}, got {v!r}")
    return v


def plan_mul_config(entry: dict):
    """The ApproxMulConfig of one layer row (signed a_bits x w_bits operands); ConfigError if the
    library has no such multiplier."""
    name, a, w = entry["name"], entry["a_bits"], entry["w_bits"]
    spec = "exact" if entry["kind"] == "baseline" else entry["config"].get("mul")
    if not isinstance(spec, str):
        raise ConfigError(f"plan: layer {name}: approxpe config needs a string 'mul', got {spec!r}")
    if not (MIN_OP_BITS <= a <= MAX_OP_BITS and MIN_OP_BITS <= w <= MAX_OP_BITS):
        if spec.strip() == "exact":
            return None                                   # exact products of any width 2..16
        raise ConfigError(f"plan: layer {name}: the multiplier library has no {a}x{w}-bit multipliers "
                          f"(operands {MIN_OP_BITS}..{MAX_OP_BITS} bits) for {spec!r}")
    try:
        cfg = parse_mul_spec(spec, a, w, True)
        cfg.validate()
    except ConfigError as e:
        raise ConfigError(f"plan: layer {name}: {e}") from None
    return cfg


def validate_plan(plan, graph: Graph | None = None) -> None:
    """ConfigError (one line) unless `plan` follows the schema (and fits `graph` when given)."""
    if not isinstance(plan, dict):
        raise ConfigError(f"plan must be a JSON object, got {type(plan).__name__}")
    if plan.get("schema") != SCHEMA:
        raise ConfigError(f"plan schema must be {SCHEMA!r}, got {plan.get('schema')!r}")
    for key, typ in (("model", dict), ("method", dict), ("layers", list)):
        if not isinstance(plan.get(key), typ):
            raise ConfigError(f"plan: {key!r} must be a JSON {typ.__name__.replace('dict', 'object')}")
    m = plan["model"]
    if not isinstance(m.get("name"), str) or not isinstance(m.get("sha256"), str) \
            or len(m["sha256"]) != 64:
        raise ConfigError("plan: model needs a 'name' string and a 64-hex-digit 'sha256'")
    if not isinstance(plan["method"].get("name"), str):
        raise ConfigError("plan: method needs a 'name' string")
    if not plan["layers"]:
        raise ConfigError("plan: 'layers' is empty")
    seen = set()
    for i, e in enumerate(plan["layers"]):
        if not isinstance(e, dict):
            raise ConfigError(f"plan: layer {i} must be a JSON object")
        missing = {"name", "a_bits", "w_bits", "kind", "config", "macs"} - set(e)
        if missing:
            raise ConfigError(f"plan: layer {i} lacks {', '.join(sorted(missing))}")
        if not isinstance(e["name"], str) or e["name"] in seen:
            raise ConfigError(f"plan: layer {i} name {e['name']!r} is not a string or is used twice")
        seen.add(e["name"])
        _int(e["a_bits"], MIN_BITS, MAX_BITS, f"layer {e['name']} a_bits")
        _int(e["w_bits"], MIN_BITS, MAX_BITS, f"layer {e['name']} w_bits")
        _int(e["macs"], 0, 1 << 62, f"layer {e['name']} macs")
        if e["kind"] not in KINDS:
            raise ConfigError(f"plan: layer {e['name']}: unknown kind {e['kind']!r} (known: {', '.join(KINDS)})")
        if not isinstance(e["config"], dict):
            raise ConfigError(f"plan: layer {e['name']}: config must be a JSON object")
        if e["kind"] == "baseline" and e["config"]:
            raise ConfigError(f"plan: layer {e['name']}: kind baseline takes no config, got {e['config']}")
        plan_mul_config(e)
        if "bias_offsets" in e:
            off = e["bias_offsets"]
            if not isinstance(off, list) or not off:
                raise ConfigError(f"plan: layer {e['name']}: bias_offsets must be a non-empty list of integers")
            for v in off:
                _int(v, -BIAS_OFFSET_LIMIT, BIAS_OFFSET_LIMIT, f"layer {e['name']} bias offset")
    if graph is not None:
        check_plan_model(plan, graph)


def check_plan_model(plan: dict, graph: Graph) -> None:
    """ConfigError unless the plan was made for `graph` (hash, then layer count and names)."""
    names = list(graph.weight_layers)
    got = [e["name"] for e in plan["layers"]]
    if plan["model"]["sha256"] != graph_sha256(graph):
        raise ConfigError(f"plan was made for another model ({plan['model']['name']}, sha256 "
                          f"{plan['model']['sha256'][:12]}...), not this one ({graph_sha256(graph)[:12]}...)")
    if len(got) != len(names):
        raise ConfigError(f"plan has {len(got)} layers, the model has {len(names)} weight layers")
    if got != names:
        bad = next(i for i, (a, b) in enumerate(zip(got, names)) if a != b)
        raise ConfigError(f"plan layer {bad} is {got[bad]!r}, the model's weight layer {bad} is {names[bad]!r}")
    for e in plan["layers"]:
        out_ch = graph.node(e["name"]).layer.out_channels
        if "bias_offsets" in e and len(e["bias_offsets"]) != out_ch:
            raise ConfigError(f"plan: layer {e['name']}: {len(e['bias_offsets'])} bias offsets, "
                              f"the layer has {out_ch} output channels")


def plan_widths(plan: dict) -> tuple[list, list, list]:
    """(a_bits, w_bits, mul spec) lists in layer order."""
    rows = plan["layers"]
    specs = ["exact" if e["kind"] == "baseline" else e["config"]["mul"] for e in rows]
    return [e["a_bits"] for e in rows], [e["w_bits"] for e in rows], specs


def apply_plan(graph: Graph, plan: dict, calib_x, float_capture: dict | None = None) -> QGraph:
    """The bit-exact integer model under `plan`: per-layer widths (`build_qgraph`, calibrated on
    calib_x) and each approxpe layer's multiplier as its product rule."""
    validate_plan(plan, graph)
    a_bits, w_bits, _ = plan_widths(plan)
    q = build_qgraph(graph, calib_x, w_bits=w_bits, a_bits=a_bits, float_capture=float_capture)
    return with_plan_muls(q, plan)


def with_plan_muls(q: QGraph, plan: dict) -> QGraph:
    """q with each layer's multiplier from the plan (exact specs keep the exact products)."""
    for e in plan["layers"]:
        cfg = plan_mul_config(e)
        if cfg is not None and cfg.method != "exact":
            if q.layer(e["name"]).in_bits != e["a_bits"] or q.layer(e["name"]).weight.bits != e["w_bits"]:
                raise QuantpeError(f"layer {e['name']}: the integer model's widths differ from the plan")
            q = q.with_mul(approx_mul(cfg), [e["name"]])
        if "bias_offsets" in e:
            q = q.with_bias_offsets(e["name"], np.asarray(e["bias_offsets"], dtype=np.int64))
    return q


