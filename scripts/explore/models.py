"""A model named on the command line: a reference model (mlp, cnn, resnet) with its digits split, or a
.npz / .onnx file with the user's samples (`resolve_model`). Imports: `quantpe.golden`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from quantpe.golden.cnn import REFERENCE_MODELS, model_data, reference_graph
from quantpe.golden.errors import QuantpeError
from quantpe.golden.graph_io import load_graph
from quantpe.golden.onnx_io import import_onnx, load_samples


def model_file(path: Path) -> Path:
    """`path`, checked to be a non-empty file (the import's messages assume a model in it)."""
    path = Path(path)
    if not path.is_file():
        raise QuantpeError(f"model file {path} does not exist" if not path.exists() else f"model {path} is not a file")
    if path.stat().st_size == 0:
        raise QuantpeError(f"model file {path} is empty, not a{'n ONNX' if path.suffix == '.onnx' else ''} model")
    return path


def read_labels(path, n: int):
    if path is None:
        return None
    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise QuantpeError(f"cannot read labels {path}: {e}") from None
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise QuantpeError(f"labels {path} must be ({n},) integers, got {y.shape} {y.dtype}")
    return y.astype(np.int64)


def resolve_model(spec: str, inputs=None, labels=None):
    """(name, float graph, x_calib, y_calib, x_eval, y_eval) for a reference name or a file.
    File models calibrate and evaluate on the same user samples; y may be None."""
    if spec in REFERENCE_MODELS:
        if inputs is not None or labels is not None:
            raise QuantpeError(f"--inputs/--labels apply to file models; {spec} uses the digits split")
        return (spec, reference_graph(spec)) + tuple(model_data(spec))
    path = Path(spec)
    if path.suffix in (".onnx", ".npz"):
        model_file(path)
    if path.suffix == ".onnx":
        graph = import_onnx(path, input_shape=None if inputs is None else sample_shape(inputs))
    elif path.suffix == ".npz":
        graph = load_graph(path)[0]
    else:
        raise QuantpeError(f"--model must be {', '.join(REFERENCE_MODELS)}, a .npz or an .onnx file, "
                           f"got {spec!r}")
    if inputs is None:
        raise QuantpeError(f"model file {path} needs --inputs X.npy (calibration / evaluation samples)")
    x = load_samples(inputs, graph)
    y = read_labels(labels, len(x))
    return path.stem, graph, x, y, x, y


def sample_shape(path):
    """Per-sample shape of a .npy file without reading its data (None if unreadable: the
    sample loader then reports the problem)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        return tuple(arr.shape[1:]) if arr.ndim >= 2 else None
    except (OSError, ValueError):
        return None
