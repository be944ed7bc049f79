"""Design configurations: frozen, JSON-serialisable dataclasses with a stable id.

A config names a design. The same object drives Verilog generation, the golden model, the
testbench, synthesis and the report row. `config_id` is `<readable name>-<8 hex>` where the hex
is the start of the SHA-256 of the canonical JSON (kind + all fields), so it is stable across
runs and machines and changes whenever any parameter changes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import ClassVar

from .errors import ConfigError

__all__ = ["DesignConfig", "shown"]


def shown(v, limit: int = 40) -> str:
    """repr(v) cut to `limit` characters (a 5,000-digit integer must not flood an error line)."""
    try:
        text = repr(v)
    except ValueError:                     # ints beyond Python's str conversion limit
        text = f"<integer of about {int(v.bit_length() * 0.30103)} digits>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclasses.dataclass(frozen=True)
class DesignConfig:
    kind: ClassVar[str] = "design"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("int", int) and (isinstance(v, bool) or not isinstance(v, int)):
                raise ConfigError(f"{self.kind}: {f.name} must be an integer, got {shown(v)}")
            if f.type in ("bool", bool) and not isinstance(v, bool):
                raise ConfigError(f"{self.kind}: {f.name} must be true or false, got {shown(v)}")
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError when the parameters are out of range or inconsistent."""

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def short_name(self) -> str:
        """Readable part of the id; subclasses make it say what the design is."""
        return self.kind

    @property
    def config_id(self) -> str:
        digest = hashlib.sha256(self.to_json().encode()).hexdigest()[:8]
        return f"{self.short_name()}-{digest}"

    def replace(self, **changes) -> DesignConfig:
        return dataclasses.replace(self, **changes)
