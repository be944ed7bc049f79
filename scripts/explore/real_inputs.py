"""Real inputs for the pretrained models of `model_fetch`: photographs and rendered text, no download.

`photo_crops(n, (h, w), seed)`: n uint8 RGB crops (n, h, w, 3) of scikit-learn's two sample
photographs (`sklearn.datasets.load_sample_images`, shipped in its wheel), at a random position
and a scale of 0.4..1 of the largest window with the target's aspect ratio, resized bilinearly.
`text_lines(n, (h, w), seed)`: n uint8 grey images of one line of English text each (the
sentences of `this`, Python's own Zen, in Pillow's bundled font), dark on light, random size,
offset and contrast; rotated by 180 degrees for odd i. `text_pages(n, (h, w), seed)`: several
lines per image, rotated by (i mod 4) * 90 degrees. Each function is deterministic in its seed.
`model_inputs(m, n, seed)` applies model m's preprocessing (`WheelModel.source`, `bgr`, `mean`,
`std`: x = (pixel / 255 - mean[c]) / std[c] per channel c of the model's input, after the BGR
swap, as PaddleOCR's pipeline applies them; the raw 0..255 pixels when mean and std are None)
and returns float32 (n, C, H, W).
"""
from __future__ import annotations

import codecs
import contextlib
import io

import numpy as np

from quantpe.golden.errors import QuantpeError

__all__ = ["photo_crops", "text_lines", "text_pages", "model_inputs", "SENTENCES"]


def _zen() -> tuple:
    with contextlib.redirect_stdout(io.StringIO()):  # `import this` prints the text
        import this
    return tuple(s for s in codecs.decode(this.s, "rot13").splitlines()[2:] if s.strip())


#: the Zen of Python (stdlib `this`, rot13-decoded): real English text on every machine
SENTENCES = _zen()


def _pil():
    from PIL import Image, ImageDraw, ImageFont      # lazy: Pillow (matplotlib's dependency) only here
    return Image, ImageDraw, ImageFont


def photo_crops(n: int, size: tuple, seed: int = 0) -> np.ndarray:
    """(n, h, w, 3) uint8 crops of the two sample photographs (module docstring)."""
    from sklearn.datasets import load_sample_images   # lazy: scikit-learn's loader, only for photos
    Image = _pil()[0]
    photos = load_sample_images().images
    h, w = size
    rng = np.random.default_rng(seed)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        img = photos[i % len(photos)]
        ih, iw = img.shape[:2]
        full = min(ih, iw * h / w)                   # largest window height with the aspect h:w
        ch = int(full * rng.uniform(0.4, 1.0))
        cw = max(1, int(round(ch * w / h)))
        y0, x0 = rng.integers(0, ih - ch + 1), rng.integers(0, iw - cw + 1)
        crop = Image.fromarray(img[y0:y0 + ch, x0:x0 + cw])
        out[i] = np.asarray(crop.resize((w, h), Image.BILINEAR))
    return out


def _render(lines, size: tuple, rng, font_px: int) -> np.ndarray:
    Image, ImageDraw, ImageFont = _pil()
    h, w = size
    bg, fg = int(rng.integers(190, 256)), int(rng.integers(0, 80))
    img = Image.new("L", (w, h), bg)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_px)
    y = int(rng.integers(0, max(1, h // 8)))
    for line in lines:
        draw.text((int(rng.integers(0, max(1, w // 16))), y), line, fill=fg, font=font)
        y += int(font_px * 1.25)
    return np.asarray(img)


def text_lines(n: int, size: tuple, seed: int = 0) -> np.ndarray:
    """(n, h, w) uint8 images of one text line each; odd i rotated by 180 degrees."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, *size), np.uint8)
    for i in range(n):
        img = _render([SENTENCES[int(rng.integers(len(SENTENCES)))]], size, rng,
                      int(size[0] * rng.uniform(0.45, 0.7)))
        out[i] = img[::-1, ::-1] if i % 2 else img
    return out


def text_pages(n: int, size: tuple, seed: int = 0) -> np.ndarray:
    """(n, h, w) uint8 images of several text lines; image i rotated by (i mod 4) * 90 degrees
    (h == w)."""
    if size[0] != size[1]:
        raise QuantpeError(f"text pages are square, got {size}")
    rng = np.random.default_rng(seed)
    out = np.empty((n, *size), np.uint8)
    for i in range(n):
        px = int(size[0] * rng.uniform(0.05, 0.09))
        k = int(rng.integers(len(SENTENCES)))
        lines = [SENTENCES[(k + j) % len(SENTENCES)] for j in range(size[0] // int(px * 1.25))]
        out[i] = np.rot90(_render(lines, size, rng, px), i % 4)
    return out


def model_inputs(m, n: int, seed: int = 0) -> np.ndarray:
    """float32 (n, C, H, W) inputs of pretrained model m (a `model_fetch.WheelModel`), preprocessed
    as its own pipeline does (module docstring)."""
    c, h, w = m.shape
    make = {"photo": photo_crops, "text": text_lines, "page": text_pages}.get(m.source)
    if make is None:
        raise QuantpeError(f"model {m.name} has no input source ({m.source!r})")
    img = make(n, (h, w), seed)
    if img.ndim == 3:                                # grey -> every channel
        img = np.repeat(img[..., None], 3, axis=3)
    img = img[..., ::-1] if m.bgr else img
    x = img.astype(np.float64)
    if m.mean is not None:
        x = (x / 255.0 - np.asarray(m.mean)) / np.asarray(m.std)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)[:, :c]).astype(np.float32)
