"""`quantpe model ...` commands: train/eval/import outputs and one-line errors with exit 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

from quantpe.cli import main
from quantpe.golden.cnn import model_data, reference_graph


def test_eval_reference_models(capsys):
    assert main(["model", "eval", "--model", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "accuracy: float 0.9722, integer 0.9667" in out          # the MLP figures of qmodel


def test_import_and_eval_onnx(tmp_path, capsys):
    pytest.importorskip("onnx")
    from quantpe.golden.onnx_io import export_onnx
    _, _, xte, yte = model_data("cnn")
    p = export_onnx(reference_graph("cnn"), tmp_path / "cnn.onnx")
    np.save(tmp_path / "x.npy", xte[:120])
    np.save(tmp_path / "y.npy", yte[:120])
    assert main(["model", "import", str(p), "--inputs", str(tmp_path / "x.npy"), "--labels",
                 str(tmp_path / "y.npy"), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "imported" in out and (tmp_path / "out" / "model.npz").exists()
    assert "MACs on the PEs: 100.0%" in out and "operators in float: none" in out
    summary = json.loads((tmp_path / "out" / "model.json").read_text())
    assert summary["calibration"]["samples"] == 120 and len(summary["layers"]) == 13
    assert main(["model", "eval", "--model", str(tmp_path / "out" / "model.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]) == 0
    assert "accuracy: float" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["model", "eval", "--model", "vgg"], "--model must be"),
    (["model", "eval", "--model", "x.onnx"], "does not exist"),
    (["model", "eval", "--model", "cnn", "--inputs", "x.npy"], "apply to file models"),
])
def test_errors_exit_2(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("quantpe: error:") and match in err and err.count("\n") == 1


def test_import_wrong_shape_exit_2(tmp_path, capsys):
    pytest.importorskip("onnx")
    from quantpe.golden.onnx_io import export_onnx
    p = export_onnx(reference_graph("mlp"), tmp_path / "mlp.onnx")
    np.save(tmp_path / "x.npy", np.zeros((3, 63)))
    assert main(["model", "import", str(p), "--inputs", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "per-sample shape (63,)" in err and "needs (64)" in err and err.count("\n") == 1


def test_techniques_on_a_file_model(tmp_path, capsys):
    """`model techniques` on a user model file with its own samples and labels (small, fast)."""
    from quantpe.golden.graph_io import save_graph
    xtr, ytr, xte, yte = model_data("cnn")
    p = save_graph(reference_graph("cnn"), tmp_path / "cnn.npz")
    np.save(tmp_path / "x.npy", xte[:24])
    np.save(tmp_path / "y.npy", yte[:24])
    assert main(["model", "techniques", "--model", str(p), "--inputs", str(tmp_path / "x.npy"), "--labels",
                 str(tmp_path / "y.npy"), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "StruM accuracy" in out and "[worse than INT8]" in out and "DStripes/Stripes" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["stripes"]["selected"] == ["conv1", "conv2", "dw3", "pw4"]
    # no labels: accuracies are top-1 agreement with the float model (1.0 for the exact integer
    # rules only if they agree everywhere, so just check the labels used and the note)
    assert main(["model", "techniques", "--model", str(p), "--inputs", str(tmp_path / "x.npy"),
                 "--json", str(tmp_path / "r2.json")]) == 0
    assert "top-1 agreement with the float model" in capsys.readouterr().out
    assert json.loads((tmp_path / "r2.json").read_text())["labels"] == "float top-1"


def test_train_writes_a_loadable_file(tmp_path, capsys):
    from quantpe.golden.graph_io import load_graph
    out = tmp_path / "cnn0.npz"
    assert main(["model", "train", "--epochs", "0", "-o", str(out)]) == 0     # initialisation only
    text = capsys.readouterr().out
    assert "0 epochs" in text and "byte-identical to the committed digits_cnn.npz: no" in text
    g, meta = load_graph(out)
    assert meta["epochs"] == 0 and g.weight_layers == reference_graph("cnn").weight_layers
