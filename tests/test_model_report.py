"""The report's "models" section and `quantpe report --only models --model FILE` on a user's model."""
import json

import numpy as np
import pytest

from quantpe.report import model as model_report
from quantpe.cli import main


@pytest.fixture
def user_model(tmp_path):
    """The digits MLP exported to ONNX, with 90 test images and their labels as the user's data."""
    from quantpe.golden.cnn import mlp_graph, model_data
    from quantpe.golden.onnx_io import export_onnx
    _, _, x, y = model_data("mlp")
    export_onnx(mlp_graph(), tmp_path / "user.onnx")
    np.save(tmp_path / "x.npy", x[:90])
    np.save(tmp_path / "y.npy", y[:90])
    return tmp_path, mlp_graph(), x[:90], y[:90]


def test_report_only_models_with_a_user_model(user_model, monkeypatch, capsys):
    tmp, graph, x, y = user_model
    monkeypatch.setattr(model_report, "REFERENCE", ())        # the user's model alone, for speed
    code = main(["report", "--only", "models", "-o", str(tmp / "rep"), "--model", str(tmp / "user.onnx"),
                 "--model-inputs", str(tmp / "x.npy"), "--model-labels", str(tmp / "y.npy")])
    err = capsys.readouterr().err
    assert code == 0, err
    doc = json.loads((tmp / "rep" / "models" / "user.json").read_text())
    from quantpe.golden.qgraph import build_qgraph
    # independent of the section: float and INT8 accuracy of the same graph on the same samples
    assert doc["strum"]["accuracy"]["float"] == pytest.approx(float(np.mean(graph.predict(x) == y)))
    assert doc["strum"]["accuracy"]["int8"] == pytest.approx(build_qgraph(graph, x).accuracy(x, y))
    md = (tmp / "rep" / "models.md").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith("| user | 90 |"))
    assert f"| {doc['strum']['accuracy']['int8']:.4f} |" in row
    assert "## Real models" in md and "| user | fc0 | dliq |" in md
    assert not (tmp / "rep" / "README.md").exists()


@pytest.mark.parametrize("args, msg", [
    (["--model", "{tmp}/user.onnx", "--model-inputs", "{tmp}/x.npy"], "needs --model-labels"),
    (["--model-inputs", "{tmp}/x.npy"], "go with --model"),
    (["--model", "{tmp}/user.onnx", "--model-inputs", "{tmp}/x.npy", "--model-labels", "{tmp}/y.npy",
      "--only", "strum"], "which --only leaves out"),
    (["--model", "{tmp}/none.onnx", "--model-inputs", "{tmp}/x.npy", "--model-labels", "{tmp}/y.npy"], "none.onnx"),
])
def test_bad_model_options(user_model, capsys, args, msg):
    tmp = user_model[0]
    code = main(["report", "-o", str(tmp / "rep"), *[a.replace("{tmp}", str(tmp)) for a in args]])
    err = capsys.readouterr().err
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp / "rep").exists()
