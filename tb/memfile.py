"""Per-cycle port streams <-> $readmemh/$writememh text, vectorised.

A word is the concatenation of the given ports in order, the first port in the least
significant bits; an array port contributes its elements with element 0 lowest (Amaranth's
ArrayLayout flattening). Values are two's complement on the wire.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.golden.intmath import to_unsigned, wrap

__all__ = ["word_bits", "streams_to_hex", "hex_to_streams", "streams_to_ints"]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIB = np.array([1, 2, 4, 8], dtype=np.uint8)


def word_bits(ports) -> int:
    return sum(p.bits for p in ports)


def _bit_matrix(streams: dict, ports, T: int) -> np.ndarray:
    cols = []
    for p in ports:
        v = np.asarray(streams[p.name], dtype=np.int64).reshape(T, p.count)
        u = to_unsigned(v, p.elem_bits)
        bits = (u[:, :, None] >> np.arange(p.elem_bits, dtype=np.int64)) & 1
        cols.append(bits.reshape(T, p.bits).astype(np.uint8))
    return np.concatenate(cols, axis=1) if cols else np.zeros((T, 0), np.uint8)


def streams_to_hex(streams: dict, ports, T: int) -> bytes:
    """$readmemh text: one word per line, T lines, most significant digit first."""
    bits = _bit_matrix(streams, ports, T)
    pad = (-bits.shape[1]) % 4
    bits = np.pad(bits, ((0, 0), (0, pad)))
    nib = bits.reshape(T, -1, 4) @ _NIB                         # digit 0 = least significant
    text = np.empty((T, nib.shape[1] + 1), dtype=np.uint8)
    text[:, :-1] = _HEX[nib[:, ::-1]]
    text[:, -1] = ord("\n")
    return text.tobytes()


def hex_to_streams(text: str, ports, T: int) -> dict:
    """Parse $writememh output (comments and @address lines skipped) into per-port streams."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln.split("//")[0].strip() for ln in lines if ln and not ln.startswith(("//", "@"))]
    lines = [ln for ln in lines if ln]
    if len(lines) < T:
        raise QuantpeError(f"capture holds {len(lines)} words, expected {T}")
    lines = lines[:T]
    width = word_bits(ports)
    ndig = (width + 3) // 4
    bad = [i for i, ln in enumerate(lines) if len(ln) != ndig]
    if bad:
        raise QuantpeError(f"capture word {bad[0]} has {len(lines[bad[0]])} digits, expected {ndig}")
    raw = np.frombuffer("".join(lines).lower().encode(), dtype=np.uint8).reshape(T, ndig)
    unknown = ~np.isin(raw, _HEX)
    if unknown.any():
        t = int(np.argwhere(unknown)[0][0])
        raise QuantpeError(f"capture has X/Z bits in cycle {t}: {lines[t]}")
    val = np.where(raw <= ord("9"), raw - ord("0"), raw - ord("a") + 10).astype(np.uint8)
    bits = ((val[:, ::-1, None] >> np.arange(4, dtype=np.uint8)) & 1).reshape(T, ndig * 4)
    out, pos = {}, 0
    for p in ports:
        chunk = bits[:, pos:pos + p.bits].reshape(T, p.count, p.elem_bits).astype(np.int64)
        u = (chunk << np.arange(p.elem_bits, dtype=np.int64)).sum(axis=2)
        v = wrap(u, p.elem_bits, p.signed)
        out[p.name] = v[:, 0] if p.count == 1 else v
        pos += p.bits
    return out


def streams_to_ints(streams: dict, port, T: int) -> list[int]:
    """One port's stream as the Python ints to assign to the Verilog port, cycle by cycle."""
    text = streams_to_hex(streams, [port], T).decode().split()
    return [int(h, 16) for h in text]
