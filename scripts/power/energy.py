"""Energy of a mapped gate netlist from per-net toggle counts and the liberty's own tables.

Inputs: a `GateNetlist` (Yosys JSON of the mapped, STA-ready netlist), a `PowerLibrary` read
from any liberty (`PowerLibrary.read`, units from the library header: time_unit,
capacitive_load_unit, voltage_unit, leakage_power_unit; internal-power tables are energies in
capacitive_load_unit * voltage_unit^2, i.e. pJ for sky130), and for the toggle model the
number of 0<->1 transitions TC[n] of every net n over a window of N clock periods (period T0).
V = the supply (voltage of the default operating conditions, else nom_voltage).

Net load (pF), wire-load assumption NONE (no wire capacitance, no parasitics), as OpenSTA:
    C_r[n] (C_f[n]) = sum of the liberty rise_capacitance (fall_capacitance; `capacitance` when
           absent) of every cell input pin on n (+ `output_load` on a top-level output port);
    C[n] = max(C_r[n], C_f[n]). The library's `default_wire_load` is ignored.
Slews (ns), a zero-wire table-lookup STA: top-level inputs and the clock have slew `input_slew`
(default 0, an ideal source); a cell output's rise (fall) slew is the max over its timing arcs
(`timing()` groups with rise_transition/fall_transition) of the table at (slew of the related
pin in the unateness-matching direction (both for non_unate), C_r (C_f) of the output net);
levelised, with flip-flop outputs from their clock arc. Tables are interpolated bilinearly and extrapolated
linearly beyond their axes (OpenSTA's rule).

Toggle model (`EnergyModel.energy`), per window:
    E_switching = sum_n TC[n] * C[n] * V^2 / 2
    E_internal  = sum over cell outputs o:  TC[o] * sum_i w_i * E_arc(i -> o)
                  with E_arc(i -> o) = mean over the internal_power groups of o related to input
                  i (when-conditions are averaged) of (rise_power + fall_power) / 2 at (slew of
                  i in the direction that causes the output edge, by the sense of the first
                  timing arc i -> o; C[o]), and w_i = TC[i] / sum_j TC[j] over the related inputs j of o (each
                  arc weighted by its input pin's toggles; a flop's Q arcs relate to its clock)
                + sum over cell input pins p with internal_power groups (e.g. a flop's CLK and
                  D): TC[p] * mean over the groups of (rise_power + fall_power) / 2 at slew(p)
    E_leakage   = sum over cells of cell_leakage_power * N * T0
    The clock net toggles twice per period: TC[clk] = 2 N.
    Power = E / (N * T0); energy per cycle = E / N.

OpenSTA 2.0.17 (Debian opensta 0~20191111) replay (`EnergyModel.opensta_2019`), global activity
A and duty D (`set_power_activity -global -activity A -duty D`), clock period T0 on the
clock port; measured on that build with its power debug output (`sta::set_debug power 3`):
    P_switching = sum over cell outputs o of 0.5 * C[o] * V^2 * a(o)
    P_internal  = sum over cell outputs o of a(o) * sum over ALL internal_power groups g of o
                  of 2 d_g (rise + fall) / 2 at (slew of g's related pin in the SAME direction
                  as the output edge, C[o])                       [arcs summed, not averaged]
                  d_g = 1 for an arc from the clock; for the function `L op R` (op | or &,
                  parsed binary, left-assoc.) with R (L) the literal of the related pin, d_g =
                  P(!L) / P(L) (P(!R) / P(R)); 1 if the function is that literal; else 0.5
                + sum over cell input pins p with groups of a(p) * sum_g 2 d_g (r + f)/2 at
                  slew(p), d_g = P(when) (every pin at duty D) or 1 on the clock net, else 0.5
    P_leakage   = sum over cells of cell_leakage_power
    where a(pin) = A (or 2 on the clock net) divided by the clock period in seconds when the
    cell is clocked (has a pin on the clock net or in the fanout of a flop), else A per second.
    Net loads and slews as above (so `sta` must read the liberty without default_wire_load,
    see `liberty_without_wire_load`). Validated against `sta` in
    tests/test_energy.py (within 1e-4 relative).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.synth.cell_power import PowerArc, PowerLibrary
from quantpe.synth.netlist import GateNetlist

__all__ = ["EnergyModel", "EnergyResult"]


# ----------------------------------------------------------------------------------------------
# The gate netlist
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# The energy model
# ----------------------------------------------------------------------------------------------


@dataclass
class EnergyResult:
    """Energies (J) over a window of `periods` clock periods of `period_s` seconds."""
    switching_j: float
    internal_j: float
    leakage_w: float
    periods: int
    period_s: float
    by_cell_type: dict = field(default_factory=dict)    # type -> [switching J, internal J]

    @property
    def dynamic_j(self) -> float:
        return self.switching_j + self.internal_j

    @property
    def time_s(self) -> float:
        return self.periods * self.period_s

    def as_dict(self) -> dict:
        t = self.time_s
        dyn_w = self.dynamic_j / t
        return {"periods": self.periods, "clock_mhz": 1e-6 / self.period_s,
                "switching_mw": 1e3 * self.switching_j / t, "internal_mw": 1e3 * self.internal_j / t,
                "dynamic_mw": 1e3 * dyn_w, "leakage_mw": 1e3 * self.leakage_w,
                "total_mw": 1e3 * (dyn_w + self.leakage_w),
                "energy_per_cycle_pj": 1e12 * (self.dynamic_j / self.periods
                                               + self.leakage_w * self.period_s)}


class EnergyModel:
    """Loads, slews and energies of `netlist` with the tables of `lib` (see the module docstring)."""

    def __init__(self, lib: PowerLibrary, netlist: GateNetlist, *, clock: str | None = "clk",
                 input_slew: float = 0.0, output_load: float = 0.0):
        self.lib, self.nl = lib, netlist
        missing = netlist.cell_types - set(lib.cells)
        if missing:
            raise QuantpeError(f"liberty {lib.path.name} lacks cell(s) {', '.join(sorted(missing))}")
        self.clock_net = None
        if clock is not None and clock in netlist.ports:
            self.clock_net = netlist.ports[clock][1][0]
        n = netlist.n_nets
        self.driver: dict[int, tuple[int, str]] = {}
        self.load_rise = np.zeros(n)            # library cap units
        self.load_fall = np.zeros(n)
        for ci, (_, typ, conns) in enumerate(netlist.cells):
            cell = lib.cells[typ]
            for pin, net in conns.items():
                d = cell.directions.get(pin)
                if d == "input":
                    r, f = cell.pin_cap_rf.get(pin, (0.0, 0.0))
                    self.load_rise[net] += r
                    self.load_fall[net] += f
                elif d == "output":
                    self.driver[net] = (ci, pin)
        for d, nets in netlist.ports.values():
            if d == "output":
                for net in nets:
                    self.load_rise[net] += output_load
                    self.load_fall[net] += output_load
        self.load = np.maximum(self.load_rise, self.load_fall)
        self.input_slew = input_slew
        self.slew_rise, self.slew_fall = self._slews()
        self._terms = None

    # -- slews ---------------------------------------------------------------------------------
    def _slews(self):
        nl, lib = self.nl, self.lib
        n = nl.n_nets
        rise = np.full(n, np.nan)
        fall = np.full(n, np.nan)
        for d, nets in nl.ports.values():
            if d == "input":
                rise[nets] = fall[nets] = self.input_slew
        rise[[0, 1]] = fall[[0, 1]] = self.input_slew
        pending = []
        for ci, (_, typ, conns) in enumerate(nl.cells):
            cell = lib.cells[typ]
            for o in cell.outputs:
                if o in conns:
                    pending.append((ci, o))
        # Evaluate an output once all its related (non-sequential-edge) inputs have slews.
        for _ in range(len(pending) + 1):
            if not pending:
                break
            rest = []
            for ci, o in pending:
                _, typ, conns = nl.cells[ci]
                arcs = [a for a in lib.cells[typ].timing.get(o, []) if a.related in conns]
                ins = [conns[a.related] for a in arcs]
                if any(np.isnan(rise[i]) for i in ins):
                    rest.append((ci, o))
                    continue
                net = conns[o]
                r = f = 0.0
                for a in arcs:
                    i = conns[a.related]
                    src_r = {"positive_unate": [rise[i]], "negative_unate": [fall[i]]}.get(
                        a.sense, [rise[i], fall[i]])
                    src_f = {"positive_unate": [fall[i]], "negative_unate": [rise[i]]}.get(
                        a.sense, [rise[i], fall[i]])
                    if a.rise_transition is not None:
                        r = max([r] + [a.rise_transition.lookup(slew=s, load=self.load_rise[net])
                                       for s in src_r])
                    if a.fall_transition is not None:
                        f = max([f] + [a.fall_transition.lookup(slew=s, load=self.load_fall[net])
                                       for s in src_f])
                rise[net], fall[net] = r, f
            if len(rest) == len(pending):
                # combinational loop or arcs from unconnected pins: settle what is left at 0
                for ci, o in rest:
                    net = nl.cells[ci][2][o]
                    rise[net] = fall[net] = 0.0
                rest = []
            pending = rest
        rise[np.isnan(rise)] = 0.0
        fall[np.isnan(fall)] = 0.0
        return rise, fall

    def cell_delays(self) -> dict[int, float]:
        """Propagation delay (library time units) of every cell output net: the mean over the
        output's combinational timing arcs from connected pins of (cell_rise + cell_fall) / 2,
        each at the related pin's slew in the direction causing that edge (by the arc's sense;
        both for non_unate) and the output net's rise (fall) load. Nets of outputs without such
        arcs (flip-flops, tie cells) are absent."""
        nl, lib = self.nl, self.lib
        out = {}
        for _, typ, conns in nl.cells:
            cell = lib.cells[typ]
            for o in cell.outputs:
                if o not in conns:
                    continue
                net = conns[o]
                ds = []
                for a in cell.timing.get(o, []):
                    if a.related not in conns or a.kind != "combinational" or None in (a.cell_rise, a.cell_fall):
                        continue
                    i = conns[a.related]
                    src_r = {"positive_unate": [self.slew_rise[i]], "negative_unate": [self.slew_fall[i]]}.get(
                        a.sense, [self.slew_rise[i], self.slew_fall[i]])
                    src_f = {"positive_unate": [self.slew_fall[i]], "negative_unate": [self.slew_rise[i]]}.get(
                        a.sense, [self.slew_rise[i], self.slew_fall[i]])
                    r = np.mean([a.cell_rise.lookup(slew=x, load=self.load_rise[net]) for x in src_r])
                    f = np.mean([a.cell_fall.lookup(slew=x, load=self.load_fall[net]) for x in src_f])
                    ds.append((r + f) / 2)
                if ds:
                    out[net] = float(np.mean(ds))
        return out

    def _is_pos_unate(self, typ, rel, out) -> bool:
        for a in self.lib.cells[typ].timing.get(out, []):
            if a.related == rel:
                return a.sense in ("positive_unate", "non_unate")
        return True

    def _arc_energy(self, typ, arc: PowerArc, conns, out, unate: bool = True) -> float:
        """Arc energy at the related pin's slews: an output rise (fall) takes the input slew in the
        direction that causes it (by the first timing arc's sense); `unate=False` takes the same
        direction, as OpenSTA 2.0.17 does."""
        net_i, net_o = conns[arc.related], conns[out]
        pos = (not unate) or self._is_pos_unate(typ, arc.related, out)
        sr, sf = (self.slew_rise[net_i], self.slew_fall[net_i]) if pos else \
            (self.slew_fall[net_i], self.slew_rise[net_i])
        return arc.energy(sr, sf, self.load[net_o])

    # -- the toggle model ----------------------------------------------------------------------
    def _cell_terms(self) -> list:
        """Per cell, the parts of `energy` that do not depend on the toggles, computed once:
        (type, leakage, [(output net, [(related net, mean arc energy)])], [(input net, sum of its
        input-pin arc energies, arc count)]), in netlist order."""
        if self._terms is None:
            terms = []
            for _, typ, conns in self.nl.cells:
                cell = self.lib.cells[typ]
                outs = []
                for o in cell.outputs:
                    if o not in conns:
                        continue
                    by_rel: dict[str, list[float]] = {}
                    for a in cell.out_arcs.get(o, []):
                        if a.related in conns:
                            by_rel.setdefault(a.related, []).append(self._arc_energy(typ, a, conns, o))
                    outs.append((conns[o], [(conns[r], sum(es) / len(es)) for r, es in by_rel.items()]))
                ins = []
                for p, arcs in cell.in_power.items():
                    if p in conns:
                        net = conns[p]
                        es = [a.energy(self.slew_rise[net], self.slew_fall[net]) for a in arcs]
                        ins.append((net, sum(es), len(es)))
                terms.append((typ, cell.leakage, outs, ins))
            self._terms = terms
        return self._terms

    def energy(self, toggles: np.ndarray, periods: int, period_s: float) -> EnergyResult:
        """Energies of a window of `periods` clock periods in which net n toggled toggles[n] times
        (the clock net's count is forced to 2 * periods)."""
        tc = np.asarray(toggles, dtype=float).copy()
        if tc.shape != (self.nl.n_nets,):
            raise QuantpeError(f"toggles must have one count per net ({self.nl.n_nets}), got {tc.shape}")
        if self.clock_net is not None:
            tc[self.clock_net] = 2.0 * periods
        lib = self.lib
        v2 = lib.voltage ** 2
        cap_f = lib.cap_unit
        e_unit = lib.energy_unit
        by_type: dict[str, list[float]] = {}
        sw_net = 0.5 * tc * self.load * cap_f * v2
        internal = 0.0
        leak = 0.0
        for typ, leakage, outs, ins in self._cell_terms():
            leak += leakage
            e_int = 0.0
            e_sw = 0.0
            for net_o, by_rel in outs:
                e_sw += sw_net[net_o]
                if not by_rel or tc[net_o] == 0:
                    continue
                wsum = sum(tc[r] for r, _ in by_rel)
                if wsum == 0:
                    continue
                e_int += tc[net_o] * sum(tc[r] / wsum * e for r, e in by_rel)
            for net, e_sum, n_arcs in ins:
                if tc[net] == 0:
                    continue
                e_int += tc[net] * e_sum / n_arcs
            internal += e_int * e_unit
            acc = by_type.setdefault(typ, [0.0, 0.0])
            acc[0] += e_sw
            acc[1] += e_int * e_unit
        # switching of nets driven by top-level inputs (no cell output drives them)
        driven = np.zeros(self.nl.n_nets, bool)
        driven[list(self.driver)] = True
        driven[[0, 1]] = True
        port_sw = float(sw_net[~driven].sum())
        if port_sw:
            by_type["(input ports)"] = [port_sw, 0.0]
        switching = float(sw_net[driven].sum()) + port_sw
        return EnergyResult(switching, internal, leak * lib.leak_unit, periods, period_s, by_type)

    # -- OpenSTA 2.0.17 replay -----------------------------------------------------------------
    def clocked_cells(self) -> np.ndarray:
        """Cells OpenSTA sees a clock on: a pin on the clock net or in the fanout of a flop."""
        nl, lib = self.nl, self.lib
        clocked_net = np.zeros(nl.n_nets, bool)
        if self.clock_net is not None:
            clocked_net[self.clock_net] = True
        fanout: dict[int, list[int]] = {}
        for ci, (_, typ, conns) in enumerate(nl.cells):
            for pin, net in conns.items():
                if lib.cells[typ].directions.get(pin) == "input":
                    fanout.setdefault(net, []).append(ci)
        stack = []
        for ci, (_, typ, _conns) in enumerate(nl.cells):
            if lib.cells[typ].ff is not None:
                stack.append(ci)
        seen = np.zeros(len(nl.cells), bool)
        for ci in stack:
            seen[ci] = True
        while stack:
            ci = stack.pop()
            _, typ, conns = nl.cells[ci]
            for o in lib.cells[typ].outputs:
                if o in conns:
                    clocked_net[conns[o]] = True
                    for cj in fanout.get(conns[o], []):
                        if not seen[cj]:
                            seen[cj] = True
                            stack.append(cj)
        out = np.zeros(len(nl.cells), bool)
        for ci, (_, _, conns) in enumerate(nl.cells):
            out[ci] = any(clocked_net[n] for n in conns.values())
        return out

    def opensta_2019(self, activity: float, duty: float = 0.5, period_s: float = 1e-8) -> dict:
        """Powers (W) as Debian's opensta 0~20191111 reports them with a clock of `period_s` on
        the clock port and `set_power_activity -global -activity A -duty D` (module docstring).

        Returns {"internal", "switching", "leakage", "total", "by_instance": {name: (i, s, l)}}.
        """
        lib = self.lib
        v2 = lib.voltage ** 2
        eu = lib.energy_unit
        res = {"internal": 0.0, "switching": 0.0, "leakage": 0.0, "by_instance": {}}
        clocked = self.clocked_cells()
        for ci, (name, typ, conns) in enumerate(self.nl.cells):
            cell = lib.cells[typ]
            scale = 1.0 / period_s if clocked[ci] else 1.0

            def act(net, scale=scale):
                return (2.0 if net == self.clock_net else activity) * scale
            p_int = p_sw = 0.0
            for o in cell.outputs:
                if o not in conns:
                    continue
                net = conns[o]
                p_sw += 0.5 * self.load[net] * lib.cap_unit * v2 * act(net)
                tree = _parse_function(cell.functions[o]) if o in cell.functions else None
                for arc in cell.out_arcs.get(o, []):
                    if arc.related not in conns:
                        continue
                    if conns[arc.related] == self.clock_net:
                        d = 1.0
                    else:
                        d = _sensitization_duty(tree, arc.related, duty)
                    p_int += act(net) * 2.0 * d * self._arc_energy(typ, arc, conns, o, False) * eu
            for p, arcs in cell.in_power.items():
                if p not in conns:
                    continue
                net = conns[p]
                for arc in arcs:
                    if arc.when is not None:
                        d = _tree_prob(_parse_function(arc.when), duty)
                    else:
                        d = 1.0 if net == self.clock_net else 0.5
                    p_int += act(net) * 2.0 * d * arc.energy(self.slew_rise[net], self.slew_fall[net]) * eu
            p_leak = cell.leakage * lib.leak_unit
            res["by_instance"][name] = (p_int, p_sw, p_leak)
            res["internal"] += p_int
            res["switching"] += p_sw
            res["leakage"] += p_leak
        res["total"] = res["internal"] + res["switching"] + res["leakage"]
        return res


# A liberty function as OpenSTA's parser builds it: binary, left-associative; precedence
# (loosest first) | +, then & * (and juxtaposition), then ^; ! and postfix ' negate.
def _parse_function(expr: str):
    import re
    toks = re.findall(r"[A-Za-z_][\w\[\].]*|[01]|[!'&*|+^()]", expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else ""

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def or_():
        v = and_()
        while peek() in ("|", "+"):
            take()
            v = ("or", v, and_())
        return v

    def and_():
        v = xor_()
        while peek() in ("&", "*") or (peek() and peek() not in ("|", "+", ")", "^", "'")):
            if peek() in ("&", "*"):
                take()
            v = ("and", v, xor_())
        return v

    def xor_():
        v = un()
        while peek() == "^":
            take()
            v = ("xor", v, un())
        return v

    def un():
        if peek() == "!":
            take()
            return ("not", un())
        t = take()
        if t == "(":
            v = or_()
            take()
        elif t in ("0", "1"):
            v = ("const", int(t))
        else:
            v = ("port", t)
        while peek() == "'":
            take()
            v = ("not", v)
        return v

    return or_()


def _is_literal(t, pin) -> bool:
    return t == ("port", pin) or t == ("not", ("port", pin))


def _tree_prob(t, duty: float) -> float:
    op = t[0]
    if op == "port":
        return duty
    if op == "const":
        return float(t[1])
    if op == "not":
        return 1.0 - _tree_prob(t[1], duty)
    p1, p2 = _tree_prob(t[1], duty), _tree_prob(t[2], duty)
    if op == "and":
        return p1 * p2
    if op == "or":
        return 1.0 - (1.0 - p1) * (1.0 - p2)
    return p1 * (1.0 - p2) + p2 * (1.0 - p1)


def _sensitization_duty(tree, pin: str, duty: float) -> float:
    """OpenSTA 2.0.17's duty of an output arc from `pin`: 1 if the function is the literal
    `pin`; for `L or R` / `L and R` with R (or L) the literal `pin`, the probability of !L / L
    (!R / R); otherwise 0.5 (measured on the Debian build, see the module docstring)."""
    if tree is None:
        return 0.5
    if _is_literal(tree, pin):
        return 1.0
    if tree[0] in ("and", "or"):
        for lit, other in ((tree[2], tree[1]), (tree[1], tree[2])):
            if _is_literal(lit, pin):
                p = _tree_prob(other, duty)
                return 1.0 - p if tree[0] == "or" else p
    return 0.5


