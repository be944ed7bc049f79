"""Flat port descriptions of a component, as they appear in the generated Verilog."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from amaranth import Shape
from amaranth.lib import data, wiring

__all__ = ["Port", "ports_of"]


@dataclass(frozen=True)
class Port:
    """One Verilog port: `count` elements of `elem_bits` each (element 0 in the LSBs)."""

    name: str
    direction: str      # "in" | "out"
    elem_bits: int
    count: int          # 1 for a scalar port, n for an ArrayLayout port
    signed: bool        # signedness of each element

    @property
    def bits(self) -> int:
        return self.elem_bits * self.count

    def to_dict(self) -> dict:
        return asdict(self)


def ports_of(component: wiring.Component) -> list[Port]:
    """Ports of a flat `wiring.Component` (scalar and array-of-scalar members), in signature order."""
    ports = []
    for name, member in component.signature.members.items():
        if not member.is_port:
            raise TypeError(f"port {name}: nested interfaces are not supported")
        direction = "in" if member.flow == wiring.In else "out"
        shape = member.shape
        if isinstance(shape, data.ArrayLayout):
            elem = Shape.cast(shape.elem_shape)
            ports.append(Port(name, direction, elem.width, shape.length, elem.signed))
        else:
            s = Shape.cast(shape)
            ports.append(Port(name, direction, s.width, 1, s.signed))
    return ports
