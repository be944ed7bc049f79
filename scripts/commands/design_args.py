"""The command line's design arguments, shared by every command that takes a DESIGN: one
sub-command per registered kind, one option per config field, --config FILE, --design DIR.
Bad input is one line `quantpe: error: ...` and exit status 2 (`Parser`, `QuantpeError`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from quantpe.core.kinds import KINDS, config_class, config_from_dict
from quantpe.golden.errors import QuantpeError
from quantpe.sim.runner import generated_folder

__all__ = ["Parser", "add_design_options", "read_json", "design_folder", "config_from_args", "kind_subparsers",
           "MAX_JSON_BYTES"]


class Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, exit 2 (argparse's default prints usage too)
        print(f"quantpe: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def add_design_options(p: argparse.ArgumentParser, cls) -> None:
    """One option per config field, named after it (a_bits -> --a-bits); the help shows the
    value the default config really has (fields whose 0 means "derived" show the derived one)."""
    g = p.add_argument_group(f"{cls.kind} design parameters (defaults in brackets)")
    try:
        defaults = cls()
    except QuantpeError:          # a kind without a complete default config
        defaults = None
    for f in dataclasses.fields(cls):
        if not f.repr:          # in-memory only (e.g. a LUT array): no command-line spelling
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name, f.default)
        if f.type in (bool, "bool"):
            g.add_argument(flag, dest=f"design_{f.name}", action=argparse.BooleanOptionalAction,
                           default=None, help=f"[{default}]")
        elif f.type in (tuple, "tuple"):
            g.add_argument(flag, dest=f"design_{f.name}", action="append", default=None,
                           metavar=f.name.upper()[:-1],
                           help=f"one element per occurrence, in order (repeat the option) [{list(default)}]")
        else:
            conv = int if f.type in (int, "int") else str
            g.add_argument(flag, dest=f"design_{f.name}", type=conv, default=None,
                           metavar=f.name.upper(), help=f"[{default}]")
    p.add_argument("--config", type=Path, help="design config JSON (or a manifest.json); "
                   "options given on the command line override its fields")


MAX_JSON_BYTES = 1 << 20      # a config or manifest is a few kB; anything larger is not one


def read_json(path: Path, what: str):
    """The JSON document in `path`; one-line QuantpeError for anything that is not one."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise QuantpeError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise QuantpeError(f"{what} {path} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise QuantpeError(f"{what} {path} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise QuantpeError(f"{what} {path} is not valid JSON: {e.msg} (line {e.lineno})") from None
    except (ValueError, RecursionError) as e:     # 5,000-digit integers, 10^5 nested brackets
        raise QuantpeError(f"{what} {path} is not a usable JSON document: {str(e).splitlines()[0][:80]}") from None


def design_folder(args):
    """(config, manifest) of --design DIR (a `quantpe generate` folder), or (None, None)."""
    if getattr(args, "design", None) is None:
        return None, None
    given = [k for k, v in vars(args).items() if k.startswith("design_") and v is not None]
    if given or args.config is not None:
        flags = ", ".join("--" + k[len("design_"):].replace("_", "-") for k in given) or "--config"
        raise QuantpeError(f"--design takes the config from the folder's manifest; drop {flags}")
    cfg, manifest = generated_folder(args.design)
    if cfg.kind != args.kind:
        raise QuantpeError(f"{args.design} holds design kind {cfg.kind}, not {args.kind}")
    return cfg, manifest


def config_from_args(args):
    """The design config named by --config and/or the design options."""
    fields = {}
    if args.config is not None:
        data = read_json(args.config, "config")
        data = data.get("config", data) if isinstance(data, dict) else data
        if not isinstance(data, dict) or data.get("kind") != args.kind:
            raise QuantpeError(f"config {args.config} is not a {args.kind} design config")
        fields.update({k: v for k, v in data.items() if k != "kind"})
    fields.update({k[len("design_"):]: v for k, v in vars(args).items()
                   if k.startswith("design_") and v is not None})
    for name, v in fields.items():         # file fields: absolute, so simulator runs find them
        if name.endswith("_path") and isinstance(v, str) and v:
            fields[name] = str(Path(v).resolve())
    return config_from_dict({"kind": args.kind, **fields})


def kind_subparsers(cmd: argparse.ArgumentParser, extra, plan: bool = False) -> None:
    if plan:
        cmd.add_argument("--plan", type=Path, metavar="FILE",
                         help="a plan file (`quantpe plan`): every layer's PE instead of one DESIGN")
        cmd.add_argument("-o", "--out", dest="plan_out", type=Path, metavar="DIR", default=None,
                         help="with --plan: output folder [build cache]")
        cmd.add_argument("--model", dest="plan_model", metavar="FILE", default=None,
                         help="with --plan: the model the plan is for, when not a reference model (.npz, .onnx)")
    sub = cmd.add_subparsers(dest="kind", metavar="DESIGN", required=not plan, parser_class=Parser)
    for kind in sorted(KINDS):
        cls = config_class(kind)
        p = sub.add_parser(kind, help=(cls.__doc__ or "").strip().splitlines()[0])
        add_design_options(p, cls)
        extra(p)
