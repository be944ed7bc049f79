"""`quantpe power DESIGN`: power and energy of a design from simulated gate-level toggles.

Flow (`measure_power(cfg, inputs)`):
1. RTL: the design's Verilog (quantpe.rtl.generate).
2. Gate netlist, one Yosys run (`build_gate_netlist`), the STA/simulation-ready recipe:
     synth -noabc -flatten; dfflibmap -liberty L; abc -script ABC_SCRIPT -liberty L; opt_clean;
     setundef -zero; splitnets; opt_clean -purge; hilomap -singleton (tie cell);
     insbuf -buf (smallest buffer); opt_clean -purge;
     write_verilog -noattr -noexpr -nohex -nodec netlist.v
   then netlist.v is read back (with the liberty cells as blackboxes) and written as
   netlist.json (same names), and cells.v = the used cells' Verilog models written by Yosys from
   the liberty (`read_liberty -ignore_miss_func`), for event-driven simulators and `sta`.
3. Zero-delay gate simulation (`GateSim`, a levelised numpy engine): every net's value in every
   cycle, vectorised over cycles. Flip-flops in sequential feedback loops (strongly connected
   components of the flop graph: accumulators, FSMs, hold registers) are simulated exactly,
   cycle by cycle, with only their loop region's cells (generated straight-line Python); every
   other flop is relaxed (Q[t] = next_state(t-1)) and the whole is swept until no flop output
   changes (`sweeps` ~ the depth of the flop-SCC graph; later sweeps re-evaluate only cells
   downstream of changed nets). Cell functions are the liberty
   `function` / `ff` groups (truth tables). Timing contract = the HDL-memory harness
   (quantpe.sim.harness): 2 reset cycles (rst = 1, inputs = stim[0], flops start at 0), then
   cycle t shows stim[t] on the inputs; outputs are sampled in every cycle.
4. CHECK: every output port in every cycle equals the golden model (quantpe.kinds.expected_outputs,
   i.e. what the RTL regression checks); a mismatch raises SimulationFailed naming the first cycle.
5. Toggles per net over the N = T - 1 cycle boundaries of the stimulus (the clock: 2 N): the
   zero-delay changes, or with `delay="unit"` / `"liberty"` every transition of a timed
   re-simulation of each boundary from the settled values (unit delays: `unit_delay_toggles`;
   liberty cell delays in 10 ps steps, inertial: `inertial_toggles`), checked to settle to the
   zero-delay values (16-lane int8 PE, 2,000 real cycles: unit 0.3 s, liberty 8.9 s). Then
   quantpe.energy.EnergyModel: switching, internal, leakage (W at the stated clock), energy per
   cycle and per MAC (lanes x valid cycles) or per multiplication (combinational multipliers).

Measured (2-core machine shared with other jobs, load ~5; 16-lane int8 baseline PE, 8245 cells,
88 flops, 10,000 cycles): whole flow on the real trace 25 s (synthesis 18 s, liberty 4 s, gate
simulation 1.2-2.9 s, energy 1 s); a second stimulus on the same build 17-20 s. Gate engine
options, same netlist and values: real trace, relax-then-exact 2.9 s (9 sweeps), exact loops
from the first sweep 10.2 s, every cell every sweep 19.0 s; random stimulus 8.1 / 11.2 / 36.3 s.
Icarus on the same netlist with the liberty cell models: 1,000 cycles in 341 s (compile, run,
80 MB VCD, toggle count), every net's toggle count equal to the engine's (8450 nets).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from quantpe.atomic import first_missing, write_text
from quantpe.energy import EnergyModel, GateNetlist, PowerLibrary
from quantpe.golden.errors import QuantpeError
from quantpe.golden.intmath import to_unsigned, wrap
from quantpe.liberty import truth_table
from quantpe.limits import MAX_GATE_CYCLES, clock_type, gate_cycles_type, seed_type
from quantpe.synth import ABC_SCRIPT, file_sha256, prepare_liberty, run_yosys

__all__ = ["SKY130_LIBERTY", "build_gate_netlist", "GateSim", "measure_power", "icarus_gate_sim",
           "add_power_parser",
           "cmd_power", "RESET_CYCLES", "DELAY_MODELS"]

#: the sky130 liberty: $QUANTPE_SKY130_LIB, else the shared folder's ($QUANTPE_SHARED, else ../shared
#: seen from the working directory, as `quantpe.report.default_real_liberty`); may be absent
SKY130_LIBERTY = Path(os.environ.get("QUANTPE_SKY130_LIB")
                      or Path(os.environ.get("QUANTPE_SHARED", Path.cwd().parent / "shared"))
                      / "pdk/sky130hd/sky130_fd_sc_hd__tt_025C_1v80.lib.gz")
RESET_CYCLES = 2
#: delay models of `measure_power` -> the name recorded in its result
DELAY_MODELS = {"zero": "zero-delay", "unit": "unit-delay (glitches counted)",
                "liberty": "liberty delays, inertial, 10 ps steps (glitches counted)"}
#: time step (ns) of the liberty-delay mode: every cell delay is rounded to a multiple (>= 1 step)
DELAY_STEP_NS = 0.01
TIE_CELL = ("sky130_fd_sc_hd__conb_1", "HI", "LO")
BUF_CELL = ("sky130_fd_sc_hd__buf_2", "A", "X")


def _yosys(script: str, cwd: Path, timeout: float = 1800.0) -> None:
    """Run a Yosys script in `cwd` through the synthesis flow's runner (`quantpe.synth.run_yosys`)."""
    (cwd / "power.ys").write_text(script)
    run_yosys(cwd / "power.ys", cwd, cwd / "yosys.log", timeout)


@functools.lru_cache(maxsize=8)
def _liberty_digest(path: str, mtime_ns: int, size: int) -> str:
    """The liberty's content SHA-256 (the netlist key: a copied or re-provisioned PDK keeps it)."""
    return file_sha256(Path(path))


def build_gate_netlist(verilog: Path, top: str, out_dir: Path, liberty: Path = SKY130_LIBERTY) -> dict:
    """Map `top` to `liberty` with the STA/simulation-ready recipe (module docstring).

    Writes out_dir/{netlist.v, netlist.json, cells.v, build.key} (the filtered liberty copy Yosys
    maps to is removed afterwards); returns their paths, the liberty, the top, the build time, the
    build key (`stamp`) and
    `cached` (True: an earlier build with the same Verilog, liberty and recipe was reused). The
    tie cell and buffer are sky130's above, or for another liberty (e.g. the built-in
    quantpe_cells.lib) its own (`_tie_and_buf`).
    """
    t0 = time.monotonic()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    liberty = Path(liberty).resolve()
    # the key ignores // comment lines (the generator header names the git revision and tools)
    body = "\n".join(ln for ln in Path(verilog).read_text().splitlines() if not ln.lstrip().startswith("//"))
    st = liberty.stat()
    key = hashlib.sha256("\0".join([body, _liberty_digest(str(liberty), st.st_mtime_ns, st.st_size),
                                     top, ABC_SCRIPT, repr(TIE_CELL), repr(BUF_CELL)]).encode()).hexdigest()
    paths = {"netlist_v": out_dir / "netlist.v", "netlist_json": out_dir / "netlist.json",
             "cells_v": out_dir / "cells.v", "liberty": liberty, "top": top}
    stamp = out_dir / "build.key"
    files = [paths[k] for k in ("netlist_v", "netlist_json", "cells_v")]
    if stamp.exists() and stamp.read_text() == key and all(f.exists() for f in files):
        return {**paths, "build_s": time.monotonic() - t0, "cached": True, "stamp": key}
    stamp.unlink(missing_ok=True)
    lib = prepare_liberty(liberty, out_dir)
    tie, buf = _tie_and_buf(lib["cells"], liberty)
    hilo = (f"hilomap -singleton -hicell {tie[0]} {tie[1]} -locell {tie[0]} {tie[2]}" if tie
            else "# no tie cell: constants stay constant nets")
    libn = lib["mapped_path"].name
    _yosys(f"""read_verilog -sv "{Path(verilog).resolve()}"
hierarchy -check -top {top}
synth -noabc -flatten -top {top}
dfflibmap -liberty {libn}
abc -script {ABC_SCRIPT} -liberty {libn}
opt_clean
setundef -zero
splitnets
opt_clean -purge
{hilo}
insbuf -buf {' '.join(buf)}
opt_clean -purge
write_verilog -noattr -noexpr -nohex -nodec netlist.v
design -reset
read_liberty -lib {libn}
read_verilog netlist.v
hierarchy -top {top}
write_json netlist.json
""", out_dir)
    nl = GateNetlist.from_yosys_json(out_dir / "netlist.json", top)
    sel = " ".join(sorted(nl.cell_types))
    _yosys(f"read_liberty -ignore_miss_func {libn}\nselect {sel}\nwrite_verilog -selected -noattr cells.v\n",
           out_dir)
    lib["mapped_path"].unlink(missing_ok=True)          # a 12 MB copy, only Yosys needs it
    write_text(stamp, key)
    return {**paths, "build_s": time.monotonic() - t0, "cached": False, "stamp": key}


def _tie_and_buf(cells: dict, liberty: Path) -> tuple[tuple | None, tuple]:
    """(tie cell, buffer) of the power recipe: sky130's TIE_CELL and BUF_CELL when the liberty has
    them; otherwise no tie cell (constants stay constant nets) unless a cell with no inputs drives
    1 and 0, and the smallest-area single-input cell whose output is its input."""
    if TIE_CELL[0] in cells and BUF_CELL[0] in cells:
        return TIE_CELL, BUF_CELL
    tie = buf = None
    for c in sorted(cells.values(), key=lambda c: (c.area or 0.0, c.name)):
        outs = c.outputs
        funcs = {(o.function or "").strip().strip('"'): o.name for o in outs}
        if tie is None and not c.inputs and not c.is_sequential and {"1", "0"} <= set(funcs):
            tie = (c.name, funcs["1"], funcs["0"])
        if (buf is None and len(c.inputs) == 1 and len(outs) == 1 and not c.is_sequential
                and (outs[0].function or "").strip().strip('"') == c.inputs[0]):
            buf = (c.name, c.inputs[0], outs[0].name)
    if buf is None:
        raise QuantpeError(f"liberty {liberty} has no usable buffer cell (needed by the power flow)")
    return tie, buf


# ----------------------------------------------------------------------------------------------
# The zero-delay gate engine
# ----------------------------------------------------------------------------------------------


def _sccs(n: int, succ: dict) -> list[list[int]]:
    """Strongly connected components of the graph 0..n-1 (iterative Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in range(n):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            nbrs = succ.get(v, [])
            if i < len(nbrs):
                work.append((v, i + 1))
                w = nbrs[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            for w in nbrs:
                if w in on and index[w] > index[v]:
                    low[v] = min(low[v], low[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


class GateSim:
    """Levelised, cycle-vectorised zero-delay simulation of a GateNetlist (module docstring)."""

    def __init__(self, nl: GateNetlist, lib: PowerLibrary, clock: str = "clk"):
        self.nl = nl
        clk = nl.ports.get(clock, (None, [None]))[1][0]
        comb, self.flops = [], []
        luts = {}
        for _ci, (name, typ, conns) in enumerate(nl.cells):
            cell = lib.cells[typ]
            if cell.ff is not None:
                ff = cell.ff
                if ff["kind"] != "ff":
                    raise QuantpeError(f"cell {name} ({typ}): {ff['kind']} not supported by the gate engine")
                if conns.get(ff.get("clocked_on", "").strip()) != clk:
                    raise QuantpeError(f"flop {name} is not clocked by the clock port {clock!r}")
                for key in ("clear", "preset"):
                    if key in ff:
                        raise QuantpeError(f"flop {name} ({typ}) has an asynchronous {key}: not supported")
                state, state_n = ff["vars"][0], ff["vars"][1] if len(ff["vars"]) > 1 else None
                ins = [p for p in cell.inputs if p in conns and p not in cell.clock_pins]
                lut = self._lut(ff["next_state"], ins)
                outs = []
                for o in cell.outputs:
                    if o in conns:
                        f = cell.functions.get(o, "").strip().strip('"')
                        if f not in (state, state_n):
                            raise QuantpeError(f"flop {name}: output {o} = {f!r} not supported")
                        outs.append((conns[o], f == state_n))
                self.flops.append(([conns[p] for p in ins], lut, outs))
                continue
            for o in cell.outputs:
                if o not in conns:
                    continue
                ins = [p for p in cell.inputs if p in conns]
                key = (typ, o)
                if key not in luts:
                    luts[key] = self._lut(cell.functions[o], ins)
                comb.append((typ, o, [conns[p] for p in ins], conns[o]))
        # levelise the combinational cells
        level = np.zeros(nl.n_nets, np.int64)
        driver = {c[3]: i for i, c in enumerate(comb)}
        fanout: dict[int, list[int]] = {}
        indeg = np.zeros(len(comb), np.int64)
        for i, (_, _, ins, _) in enumerate(comb):
            for n in ins:
                if n in driver:
                    fanout.setdefault(n, []).append(i)
                    indeg[i] += 1
        ready = [i for i in range(len(comb)) if indeg[i] == 0]
        order = []
        while ready:
            i = ready.pop()
            order.append(i)
            out = comb[i][3]
            level[out] = 1 + max((level[n] for n in comb[i][2]), default=0)
            for j in fanout.get(out, []):
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
        if len(order) != len(comb):
            raise QuantpeError("the gate netlist has a combinational loop")
        groups: dict[tuple, list[int]] = {}
        for i in order:
            typ, o, ins, out = comb[i]
            groups.setdefault((int(level[out]), typ, o), []).append(i)
        self.groups = []
        for (_lv, typ, o), idx in sorted(groups.items()):
            ins = np.array([comb[i][2] for i in idx], np.int64).T       # (n_inputs, cells)
            outs = np.array([comb[i][3] for i in idx], np.int64)
            self.groups.append((ins, outs, luts[(typ, o)]))
        self.levels = int(level.max(initial=0))
        self._find_loops(comb, order, luts)
        # for the timed (unit / liberty delay) simulations
        self._comb, self._luts, self._order = comb, luts, order
        self.comb_driven = np.zeros(nl.n_nets, bool)
        self.comb_driven[[c[3] for c in comb]] = True

    def _find_loops(self, comb, order, luts) -> None:
        """Flip-flops in sequential feedback loops (strongly connected components of the
        flop -> flop graph through combinational logic) get an exact cycle-by-cycle simulation
        of their loop region (generated Python); the other flops are relaxed (Q = shifted D)."""
        driver = {c[3]: i for i, c in enumerate(comb)}
        q_of = {}
        for fi, (_, _, outs) in enumerate(self.flops):
            for net, _ in outs:
                q_of[net] = fi
        cones = []                      # per flop: (comb cells in the D cone, fan-in flops)
        for ins, _, _ in self.flops:
            cells, flops, stack, seen = set(), set(), list(ins), set()
            while stack:
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                if n in q_of:
                    flops.add(q_of[n])
                elif n in driver:
                    cells.add(driver[n])
                    stack.extend(comb[driver[n]][2])
            cones.append((cells, flops))
        succ = {fi: [] for fi in range(len(self.flops))}
        for fi, (_, fl) in enumerate(cones):
            for fj in fl:
                succ[fj].append(fi)
        sccs = _sccs(len(self.flops), succ)
        pos = {c: k for k, c in enumerate(order)}
        self.loops = []
        in_loop = set()
        for scc in sccs:
            if len(scc) == 1 and scc[0] not in cones[scc[0]][1]:
                continue
            members = set(scc)
            qnets = {net for fi in scc for net, _ in self.flops[fi][2]}
            cone = set().union(*(cones[fi][0] for fi in scc))
            region, produced = [], set(qnets)
            for c in sorted(cone, key=pos.__getitem__):
                if any(n in produced for n in comb[c][2]):
                    region.append(c)
                    produced.add(comb[c][3])
            ext = sorted({n for c in region for n in comb[c][2] if n not in produced}
                         | {n for fi in scc for n in self.flops[fi][0] if n not in produced})
            self.loops.append(self._loop_sim(sorted(members), region, ext, comb, luts))
            in_loop |= members
        self.plain_flops = [f for fi, f in enumerate(self.flops) if fi not in in_loop]

    def _loop_sim(self, flops, region, ext, comb, luts):
        lut_ids, lut_list = {}, []

        def lut_var(key, lut):
            if key not in lut_ids:
                lut_ids[key] = len(lut_list)
                lut_list.append(tuple(int(x) for x in lut))
            return f"l{lut_ids[key]}"

        def index(nets):
            return " | ".join(f"v{n}" if k == 0 else f"(v{n} << {k})" for k, n in enumerate(nets)) or "0"
        body = ["def sim(T, E, L):"]
        body += [f"    e{k} = E[{k}]" for k in range(len(ext))]
        body += [f"    s{i} = 0\n    o{i} = [0] * T" for i in flops]
        luts_code = []
        for c in region:
            typ, o, ins, out = comb[c]
            luts_code.append(f"        v{out} = {lut_var((typ, o), luts[(typ, o)])}[{index(ins)}]")
        nxt = [f"        n{i} = {lut_var(('ff', i), self.flops[i][1])}[{index(self.flops[i][0])}]"
               for i in flops]
        body += [f"    {v} = L[{k}]" for v, k in ((f"l{k}", k) for k in range(len(lut_list)))]
        body += ["    for t in range(T):"]
        body += [f"        o{i}[t] = s{i}" for i in flops]
        for i in flops:
            for net, inv in self.flops[i][2]:
                body.append(f"        v{net} = s{i} ^ 1" if inv else f"        v{net} = s{i}")
        body += [f"        v{n} = e{k}[t]" for k, n in enumerate(ext)]
        body += luts_code + nxt + [f"        s{i} = n{i}" for i in flops]
        body += ["    return [" + ", ".join(f"o{i}" for i in flops) + "]"]
        scope: dict = {}
        exec(compile("\n".join(body), "<quantpe loop region>", "exec"), scope)
        return {"flops": flops, "ext": np.array(ext, np.int64), "luts": lut_list, "sim": scope["sim"],
                "cells": len(region)}

    @staticmethod
    def _lut(function: str, inputs: list[str]) -> np.ndarray:
        tt = truth_table(function.strip().strip('"'), inputs)
        return np.array([(tt >> k) & 1 for k in range(1 << len(inputs))], np.uint8)

    def _eval_comb(self, V: np.ndarray, dirty: np.ndarray | None) -> None:
        """Evaluate the cells in level order; with `dirty` (bool per net) only the cells with a
        changed input, marking the outputs that change."""
        for ins, outs, lut in self.groups:
            if dirty is not None:
                m = dirty[ins].any(axis=0)
                if not m.any():
                    continue
                ins, outs = ins[:, m], outs[m]
            if ins.shape[0] == 0:                       # tie cells: constant outputs
                new = np.full((len(outs), V.shape[1]), lut[0], np.uint8)
            else:
                idx = V[ins[0]].copy()
                for k in range(1, ins.shape[0]):
                    idx |= V[ins[k]] << k
                new = lut[idx]
            if dirty is not None:
                dirty[outs[(new != V[outs]).any(axis=1)]] = True
            V[outs] = new

    def run(self, port_bits: dict[str, np.ndarray], max_sweeps: int | None = None,
            incremental: bool = True, relax_sweeps: int = 16) -> tuple[np.ndarray, int]:
        """Values (n_nets, cycles) uint8 for input port bits {port: (cycles, width) 0/1}; and the
        number of sweeps until the flip-flop outputs were a fixed point (sweeps after the first
        re-evaluate only the cells downstream of flip-flops whose output changed; `incremental=False`
        re-evaluates every cell in every sweep, for benchmarking). The first `relax_sweeps` sweeps
        relax every flop (cheap, and enough when the loops' dependence chains are short, e.g.
        short accumulation frames); if that has not converged, the loop flops switch to their exact
        cycle-by-cycle simulation (same result: the trajectory from reset is unique)."""
        T = len(next(iter(port_bits.values())))
        V = np.zeros((self.nl.n_nets, T), np.uint8)
        V[1] = 1
        for name, bits in port_bits.items():
            d, nets = self.nl.ports[name]
            V[nets] = np.asarray(bits, np.uint8).T
        limit = max_sweeps or T + 2
        dirty = None
        for sweep in range(1, limit + 1):
            changed = dirty if incremental else None
            self._eval_comb(V, changed)
            dirty = np.zeros(self.nl.n_nets, bool)
            exact = sweep > relax_sweeps
            if sweep == relax_sweeps + 1:
                changed = None                  # first exact sweep: simulate every loop
            for loop in (self.loops if exact else ()):
                if changed is not None and not changed[loop["ext"]].any():
                    continue                    # its inputs did not change: its Q streams stand
                qs = loop["sim"](T, [V[n].tolist() for n in loop["ext"]], loop["luts"])
                for fi, q in zip(loop["flops"], qs):
                    q = np.array(q, np.uint8)
                    for net, inv in self.flops[fi][2]:
                        val = q ^ 1 if inv else q
                        if not np.array_equal(V[net], val):
                            dirty[net] = True
                            V[net] = val
            for ins, lut, outs in (self.plain_flops if exact else self.flops):
                idx = np.zeros(T, np.uint8)
                for k, n in enumerate(ins):
                    idx |= V[n] << k
                nxt = np.empty(T, np.uint8)
                nxt[0] = 0
                nxt[1:] = lut[idx[:-1]]
                for net, inv in outs:
                    val = nxt ^ 1 if inv else nxt
                    if not np.array_equal(V[net], val):
                        dirty[net] = True
                        V[net] = val
            if not dirty.any():
                return V, sweep
        raise QuantpeError(f"gate simulation did not settle in {limit} sweeps")


    def unit_delay_toggles(self, W: np.ndarray, max_steps: int | None = None) -> tuple[np.ndarray, int]:
        """Per-net transition counts, glitches included, over the T - 1 clock edges of the settled
        zero-delay values W (n_nets, T) (from `run`), in the unit-delay model: at each edge the
        sources (input ports, flip-flop outputs) take their new value at step 0, and every
        combinational cell output at step k + 1 is its function of its inputs at step k (all
        edges vectorised; only cells with an input that changed are evaluated). Each edge is
        simulated until no net changes; returns (toggles, last step at which a net changed).
        Raises QuantpeError if a net still changes after `max_steps` (default: the logic depth,
        the most an acyclic netlist can take) or if the settled values differ from W."""
        return self.timed_toggles(W, None, max_steps)

    def arrival_bound(self, delays: dict[int, int] | None = None) -> int:
        """The latest time a net can change after an edge: the longest path, in the cells' integer
        delays (`delays`: output net -> delay; None = every cell 1, i.e. the logic depth)."""
        arrive = np.zeros(self.nl.n_nets, np.int64)
        for i in self._order:
            _, _, ins, out = self._comb[i]
            d = (1 if delays is None else delays[out]) if ins else 0
            arrive[out] = d + max((arrive[n] for n in ins), default=0)
        return int(arrive.max(initial=0))

    def timed_toggles(self, W: np.ndarray, delays: dict[int, int] | None = None,
                      max_time: int | None = None) -> tuple[np.ndarray, int]:
        """As `unit_delay_toggles` with integer transport delays: cell output net n takes, at time
        t + delays[n] (>= 1), its function of the inputs at time t (None: every delay 1, the unit-
        delay model). Returns (toggles, last time at which a net changed); QuantpeError if a net
        changes after `max_time` (default `arrival_bound`) or the settled values differ from W."""
        n, T = W.shape
        comb, luts = self._comb, self._luts
        if delays is not None and any(int(delays.get(c[3], 0)) < 1 for c in comb if c[2]):
            raise QuantpeError("every cell delay must be an integer >= 1")
        by_key: dict[tuple, list[int]] = {}
        for i, (typ, o, ins, out) in enumerate(comb):
            if ins:                                             # tie cells never change
                by_key.setdefault((typ, o, 1 if delays is None else int(delays[out])), []).append(i)
        groups = [(np.array([comb[i][2] for i in idx], np.int64).T, np.array([comb[i][3] for i in idx], np.int64),
                   luts[(typ, o)], d) for (typ, o, d), idx in sorted(by_key.items())]
        limit = max_time if max_time is not None else self.arrival_bound(delays)
        S = W[:, :-1].copy()
        src = ~self.comb_driven
        S[src] = W[src, 1:]
        toggles = np.count_nonzero(S != W[:, :-1], axis=1).astype(np.int64)
        dirty = src & (toggles > 0)
        pending: dict[int, list] = {}
        t = last = 0
        while True:
            if dirty.any():                                     # cells whose inputs changed at t
                for ins, outs, lut, d in groups:
                    m = dirty[ins].any(axis=0)
                    if not m.any():
                        continue
                    ins_m = ins[:, m]
                    idx = S[ins_m[0]].copy()
                    for k in range(1, ins_m.shape[0]):
                        idx |= S[ins_m[k]] << k
                    pending.setdefault(t + d, []).append((outs[m], lut[idx]))
            if not pending:
                break
            t = min(pending)
            dirty = np.zeros(n, bool)
            for outs, new in pending.pop(t):                    # one cell has one delay: no clash
                cnt = np.count_nonzero(new != S[outs], axis=1)
                toggles[outs] += cnt
                dirty[outs[cnt > 0]] = True
                S[outs] = new
            if dirty.any():
                last = t
                if t > limit:
                    raise QuantpeError(f"timed gate simulation did not settle in {limit} steps "
                                       f"({int(dirty.sum())} nets still changing)")
        self._check_settled(S, W[:, 1:])
        return toggles, last

    def _check_settled(self, S: np.ndarray, W_next: np.ndarray) -> None:
        """QuantpeError unless a delay model's settled values S equal the zero-delay ones."""
        bad = np.flatnonzero((S != W_next).any(axis=1))
        if bad.size:
            raise QuantpeError(f"delay-model settled values differ from zero-delay on {bad.size} nets "
                               f"(first: {self.nl.names[bad[0]]})")


    def inertial_toggles(self, W: np.ndarray, delays: dict[int, int], max_time: int | None = None,
                         block: int = 2048) -> tuple[np.ndarray, int]:
        """As `timed_toggles` with inertial delays (a Verilog gate with a #d delay): when a cell's
        input changes at time t, its output is scheduled to take f(inputs at t) at t + d and any
        event still pending for that output is cancelled (no event when the new value is the
        current one), so pulses shorter than the cell's delay never reach its output. With every
        delay 1 this equals the unit-delay model. Columns (edges) are simulated in blocks of
        `block`; returns (toggles, last time at which a net changed)."""
        n, T = W.shape
        comb, luts = self._comb, self._luts
        if any(int(delays.get(c[3], 0)) < 1 for c in comb if c[2]):
            raise QuantpeError("every cell delay must be an integer >= 1")
        by_key: dict[tuple, list[int]] = {}
        for i, (typ, o, ins, _out) in enumerate(comb):
            if ins:
                by_key.setdefault((typ, o), []).append(i)
        groups = [(np.array([comb[i][2] for i in idx], np.int64).T, np.array([comb[i][3] for i in idx], np.int64),
                   luts[key], np.array([int(delays[comb[i][3]]) for i in idx], np.int64))
                  for key, idx in sorted(by_key.items())]
        limit = max_time if max_time is not None else self.arrival_bound(delays)
        feeds: dict[int, set] = {}                              # net -> the groups it is an input of
        for gi, (ins, _, _, _) in enumerate(groups):
            for net in np.unique(ins).tolist():
                feeds.setdefault(net, set()).add(gi)
        src = ~self.comb_driven
        toggles = np.zeros(n, np.int64)
        last = 0
        for c0 in range(0, T - 1, block):
            c1 = min(T - 1, c0 + block)
            S = W[:, c0:c1].copy()
            S[src] = W[src, c0 + 1:c1 + 1]
            changed = S != W[:, c0:c1]                      # (net, edge) changed at the current time
            toggles += np.count_nonzero(changed, axis=1)
            PT = np.full(S.shape, -1, np.int32)            # time of the pending event, -1: none
            PV = np.zeros(S.shape, np.uint8)               # its value
            pending: dict[int, set] = {}
            t = 0
            while True:
                rows = np.flatnonzero(changed.any(axis=1))
                if rows.size:
                    dirty = np.zeros(n, bool)
                    dirty[rows] = True
                    touched = sorted(set().union(*(feeds.get(r, ()) for r in rows.tolist())))
                    for ins, outs, lut, dvec in (groups[gi] for gi in touched):
                        m = dirty[ins].any(axis=0)
                        if not m.any():
                            continue
                        ins_m, outs_m, d_m = ins[:, m], outs[m], dvec[m]
                        hit = changed[ins_m[0]].copy()
                        idx = S[ins_m[0]].copy()
                        for k in range(1, ins_m.shape[0]):
                            hit |= changed[ins_m[k]]
                            idx |= S[ins_m[k]] << k
                        new = lut[idx]
                        differs = hit & (new != S[outs_m])
                        pt, pv = PT[outs_m], PV[outs_m]
                        pt[hit] = -1                            # inertial: the pending event goes
                        pt = np.where(differs, (t + d_m)[:, None], pt).astype(np.int32)
                        pv[differs] = new[differs]
                        PT[outs_m], PV[outs_m] = pt, pv
                        rows_d = differs.any(axis=1)
                        for dd in np.unique(d_m[rows_d]).tolist():
                            pending.setdefault(t + dd, set()).update(outs_m[rows_d & (d_m == dd)].tolist())
                live = {k: v for k, v in pending.items() if k > t}
                if not live:
                    break
                t = min(live)
                R = np.array(sorted(pending.pop(t)), np.int64)
                for k in [k for k in pending if k < t]:
                    del pending[k]
                changed = np.zeros(S.shape, bool)
                fire = PT[R] == t
                if fire.any():
                    sr = S[R]
                    sr[fire] = PV[R][fire]
                    S[R] = sr
                    changed[R] = fire
                    toggles[R] += np.count_nonzero(fire, axis=1)
                    pt = PT[R]
                    pt[fire] = -1
                    PT[R] = pt
                    last = max(last, t)
                    if t > limit:
                        raise QuantpeError(f"timed gate simulation did not settle in {limit} steps")
            self._check_settled(S, W[:, c0 + 1:c1 + 1])
        return toggles, last


# ----------------------------------------------------------------------------------------------
# The flow
# ----------------------------------------------------------------------------------------------


def _port_bits(values, count: int, elem_bits: int, T: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64).reshape(T, count)
    u = to_unsigned(v, elem_bits)
    return ((u[:, :, None] >> np.arange(elem_bits)) & 1).reshape(T, count * elem_bits).astype(np.uint8)


#: bump when the figures of measure_power change for the same netlist and stimulus
RESULT_VERSION = 2


def _liberty_delays(model: EnergyModel, gsim: GateSim, liberty: Path) -> dict[int, int]:
    """Cell output net -> delay in DELAY_STEP_NS steps (>= 1), from the liberty's timing tables."""
    ns = {net: d * model.lib.time_unit / 1e-9 for net, d in model.cell_delays().items()}
    missing = [c for c in gsim._comb if c[2] and c[3] not in ns]
    if missing:
        raise QuantpeError(f"--delay liberty: liberty {Path(liberty).name} has no cell_rise/cell_fall tables for "
                           f"{missing[0][0]} (and {len(missing) - 1} other cells): use --delay zero or unit")
    return {net: max(1, round(d / DELAY_STEP_NS)) for net, d in ns.items()}


def _result_key(built: dict, inputs: dict, clock_mhz: float, delay: str, stimulus: str) -> str:
    h = hashlib.sha256(f"{RESULT_VERSION}\0{built['stamp']}\0{clock_mhz!r}\0{delay}\0{stimulus}".encode())
    for k in sorted(inputs):
        v = np.ascontiguousarray(np.asarray(inputs[k], dtype=np.int64))
        h.update(f"\0{k}{v.shape}".encode())
        h.update(v.tobytes())
    return h.hexdigest()


def _cached_result(path: Path, key: str) -> dict | None:
    """The stored result at `path` if its cache_key is `key`, marked result_cached; else None."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("cache_key") != key:
        return None
    return {**old, "result_cached": True}


def _macs_per_cycle(cfg, inputs: dict) -> tuple[str, float]:
    """(unit, operations over the stimulus): inputs["_ops"] MACs when the trace gives them (the
    bit-serial Stripes PE), else MACs of valid cycles for PEs, one product per cycle otherwise."""
    if "_ops" in inputs:
        return "MAC", float(inputs["_ops"])
    T = len(next(iter(inputs.values())))
    lanes = getattr(cfg, "lanes", None) or getattr(cfg, "block", None)
    if "valid" in inputs and lanes:
        return "MAC", float(np.count_nonzero(inputs["valid"])) * lanes
    return "multiplication", float(T)


_LOADED: dict = {}


def _load_netlist(netlist_json: Path, top: str, liberty: Path):
    """(GateNetlist, PowerLibrary, EnergyModel, GateSim) of a built netlist; the last one loaded
    is kept for the next call on the same file (a design measured on many stimuli in a row).
    None of the four is changed by a measurement."""
    st = netlist_json.stat()
    key = (str(netlist_json.resolve()), st.st_mtime_ns, st.st_size, top, str(liberty.resolve()))
    if key not in _LOADED:
        nl = GateNetlist.from_yosys_json(netlist_json, top)
        lib = PowerLibrary.read(liberty, nl.cell_types)    # the mapped copy only drops unused cells
        _LOADED.clear()
        _LOADED[key] = (nl, lib, EnergyModel(lib, nl), GateSim(nl, lib))
    return _LOADED[key]


def measure_power(cfg, inputs: dict, *, out_dir: Path, liberty: Path = SKY130_LIBERTY,
                  clock_mhz: float = 100.0, stimulus: str = "given", name: str = "power",
                  keep: dict | None = None, delay: str = "zero", cache: bool = False) -> dict:
    """Power of `cfg` on the per-cycle input streams `inputs` (module docstring); returns a dict
    (powers in mW at `clock_mhz`, energy per cycle and per operation in pJ, timings in s) and
    writes it to out_dir/<name>.json. The gate netlist in out_dir/gate is reused by later calls
    with other stimuli (many stimulus streams per build). `keep` (a dict) receives the netlist,
    the per-net values of the stimulus cycles, the build paths, the ports and the energy model.
    `delay`: "zero" (default), "unit" (toggles from `GateSim.unit_delay_toggles`) or "liberty"
    (`GateSim.inertial_toggles` with every cell's delay from the liberty's cell_rise / cell_fall
    tables, `EnergyModel.cell_delays`, rounded to DELAY_STEP_NS steps, inertial delays): glitches
    counted, settled values checked equal to the zero-delay ones, which the golden check ran on;
    the result then also holds the zero-delay figures under "zero_delay" and the differences
    in % ("glitch_toggles_pct", "glitch_power_pct").
    `cache=True`: the RTL comes from the flow's cache (quantpe.sim.runner.ensure_generated), and
    an earlier out_dir/<name>.json with the same `cache_key` (sha256 of the netlist build key, the
    stimulus arrays, clock, delay model and stimulus label) is returned without simulating
    (its "result_cached" is True); `keep` is not filled then."""
    from quantpe.kinds import expected_outputs
    from quantpe.rtl.generate import generate
    from quantpe.rtl.ports import Port
    from quantpe.sim.runner import SimulationFailed
    if clock_mhz <= 0:
        raise QuantpeError(f"clock must be > 0 MHz, got {clock_mhz}")
    if delay not in DELAY_MODELS:
        raise QuantpeError(f"unknown delay model {delay!r} ({' | '.join(DELAY_MODELS)})")
    times = {}
    t0 = time.monotonic()
    out_dir = Path(out_dir).resolve()
    if cache:
        from quantpe.sim.runner import design_dir, ensure_generated
        manifest = ensure_generated(cfg)
        rtl_dir = design_dir(cfg)
    else:
        rtl_dir = out_dir / "rtl"
        manifest = generate(cfg, rtl_dir)
    times["generate_s"] = time.monotonic() - t0
    gate_dir = out_dir / "gate"
    built = build_gate_netlist(rtl_dir / manifest["verilog"], manifest["top"], gate_dir, liberty)
    times["synth_s"] = built["build_s"]
    key = _result_key(built, inputs, clock_mhz, delay, stimulus)
    if cache:
        hit = _cached_result(out_dir / f"{name}.json", key)
        if hit is not None:
            return hit
    t1 = time.monotonic()
    nl, lib, model, gsim = _load_netlist(Path(built["netlist_json"]), manifest["top"], Path(liberty))
    times["load_s"] = time.monotonic() - t1
    ports = [Port(**p) for p in manifest["ports"]]
    T = len(inputs[next(p.name for p in ports if p.direction == "in")])
    if T < 2:
        raise QuantpeError("power needs a stimulus of at least 2 cycles")
    R = RESET_CYCLES
    bits = {}
    for p in ports:
        if p.direction == "in":
            b = _port_bits(inputs[p.name], p.count, p.elem_bits, T)
            bits[p.name] = np.concatenate([np.repeat(b[:1], R, axis=0), b])
    if "rst" in nl.ports:
        bits["rst"] = np.concatenate([np.ones((R, 1), np.uint8), np.zeros((T, 1), np.uint8)])
    t2 = time.monotonic()
    V, sweeps = gsim.run(bits)
    times["gate_sim_s"] = time.monotonic() - t2
    # check every output on every cycle against the golden model
    t3 = time.monotonic()
    expected = expected_outputs(cfg, inputs)
    W = V[:, R:]
    for p in ports:
        if p.direction != "out":
            continue
        nets = nl.ports[p.name][1]
        raw = W[nets].T.astype(np.int64).reshape(T, p.count, p.elem_bits)
        u = (raw << np.arange(p.elem_bits, dtype=np.int64)).sum(axis=2)
        got = wrap(u, p.elem_bits, p.signed).reshape(np.asarray(expected[p.name]).shape)
        bad = np.flatnonzero((got != np.asarray(expected[p.name])).reshape(T, -1).any(axis=1))
        if bad.size:
            t = int(bad[0])
            raise SimulationFailed(f"{cfg.config_id}: gate netlist output {p.name} differs from golden in "
                                   f"{bad.size} cycles, first cycle {t}: got {got[t]}, expected "
                                   f"{np.asarray(expected[p.name])[t]} (netlist: {built['netlist_v']})")
    times["check_s"] = time.monotonic() - t3
    t4 = time.monotonic()
    toggles = np.count_nonzero(W[:, 1:] != W[:, :-1], axis=1)
    zero_toggles = toggles
    if delay != "zero":
        t5 = time.monotonic()
        if delay == "unit":
            toggles, steps = gsim.unit_delay_toggles(W)
        else:
            toggles, steps = gsim.inertial_toggles(W, _liberty_delays(model, gsim, liberty))
        times["delay_sim_s"] = time.monotonic() - t5
    if keep is not None:
        keep.update(netlist=nl, values=W, toggles=toggles, zero_toggles=zero_toggles, built=built,
                    ports=ports, model=model)
    period = 1e-6 / clock_mhz
    unit, ops = _macs_per_cycle(cfg, inputs)
    ops_window = ops * (T - 1) / T

    def figures(tc):
        res = model.energy(tc, T - 1, period)
        total_j = res.dynamic_j + res.leakage_w * res.time_s
        return res, {**res.as_dict(), "energy_per_op_pj": 1e12 * total_j / ops_window if ops_window else None,
                     "toggles": int(tc.sum())}
    res, d = figures(toggles)
    times["energy_s"] = time.monotonic() - t4 - times.get("delay_sim_s", 0.0)
    out = {"design": cfg.config_id, "kind": cfg.kind, "stimulus": stimulus, "cycles": T,
           "cells": len(nl.cells), "flip_flops": len(gsim.flops), "levels": gsim.levels, "sweeps": sweeps,
           "liberty": str(Path(liberty)), "voltage_v": lib.voltage, "wire_load": "none",
           "delay_model": DELAY_MODELS[delay], **d, "op_unit": unit, "ops": ops,
           "times_s": {k: round(v, 3) for k, v in times.items()},
           "by_cell_type_uw": {k: [1e6 * v[0] / res.time_s, 1e6 * v[1] / res.time_s]
                               for k, v in sorted(res.by_cell_type.items())}}
    if delay != "zero":
        _, z = figures(zero_toggles)
        out["delay_steps"] = steps
        out["zero_delay"] = {k: z[k] for k in ("switching_mw", "internal_mw", "leakage_mw", "dynamic_mw",
                                               "total_mw", "energy_per_cycle_pj", "energy_per_op_pj",
                                               "toggles")}
        out["glitch_toggles_pct"] = 100.0 * (out["toggles"] / z["toggles"] - 1) if z["toggles"] else None
        out["glitch_power_pct"] = 100.0 * (out["total_mw"] / z["total_mw"] - 1) if z["total_mw"] else None
    out["times_s"]["total_s"] = round(time.monotonic() - t0, 3)
    out["synth_cached"] = built["cached"]
    out["result_cached"] = False
    out["cache_key"] = key
    write_text(out_dir / f"{name}.json", json.dumps(out, indent=1, default=float) + "\n")
    return out


def icarus_gate_sim(built: dict, ports, inputs: dict, work: Path,
                    timeout: float = 600.0) -> tuple[dict, dict]:
    """Reference: the same gate netlist on Icarus (event-driven, zero delay) in the HDL-memory
    harness, with the cell models from the liberty. Returns (captured outputs {port: per-cycle},
    toggles {VCD net name: count over the same window as GateSim}). For cross-checking GateSim."""
    from quantpe.sim.harness import HARNESS_TOP, harness_verilog
    from quantpe.sim.memfile import hex_to_streams, streams_to_hex
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    T = len(inputs[next(p.name for p in ports if p.direction == "in")])
    names = set(GateNetlist.from_yosys_json(built["netlist_json"], built["top"]).ports)
    hv = harness_verilog(built["top"], ports, T, "clk" if "clk" in names else None,
                         "rst" if "rst" in names else None)
    (work / "harness.v").write_text(hv)
    (work / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1;
  wire done;
  {HARNESS_TOP} h (.clk(clk), .rst(rst), .done(done));
  always #5 clk = ~clk;
  initial begin
    $dumpfile("{work / 'gate.vcd'}");
    $dumpvars(0, h.dut);
    @(posedge clk); @(posedge clk); #1 rst = 0;
    wait (done);
    $finish;
  end
endmodule
""")
    (work / "stim.hex").write_bytes(streams_to_hex(inputs, [p for p in ports if p.direction == "in"], T))
    subprocess.run(["iverilog", "-g2012", "-o", str(work / "sim.vvp"), "-s", "tb", str(work / "tb.v"),
                    str(work / "harness.v"), str(built["netlist_v"]), str(built["cells_v"])],
                   check=True, capture_output=True, timeout=timeout)
    subprocess.run(["vvp", "-n", str(work / "sim.vvp"), f"+stim={work / 'stim.hex'}",
                    f"+cap={work / 'cap.hex'}", f"+cycles={T}"], check=True, capture_output=True,
                   timeout=timeout, cwd=work)
    outs = [p for p in ports if p.direction == "out"]
    captured = hex_to_streams((work / "cap.hex").read_text(), outs, T)
    # toggles at the posedges that separate stimulus cycles 0..T-1 (posedge k at 10 k - 5 ns,
    # cycle t runs from posedge 2 + t): posedges 3 .. T + 1
    lo, hi = 10 * 3 - 5, 10 * (T + 1) - 5
    ids: dict[str, list[str]] = {}
    width: dict[str, int] = {}
    last: dict[str, str] = {}
    count: dict[str, np.ndarray] = {}
    now = 0
    with open(work / "gate.vcd") as f:
        for line in f:
            if line.startswith("$var"):
                parts = line.split()
                w, code, name = int(parts[2]), parts[3], parts[4]
                ids.setdefault(code, []).append(name)
                width[code] = w
                count.setdefault(code, np.zeros(w, np.int64))
                continue
            if not line or line[0] in "$ \n":
                continue
            if line[0] == "#":
                now = int(line[1:]) // 1000        # ps -> ns
                continue
            if line[0] in "bB":
                val, code = line[1:].split()
                val = val.rjust(width[code], "0")
            else:
                val, code = line[0], line[1:].strip()
            old = last.get(code)
            if old is not None and lo <= now <= hi:
                diff = np.frombuffer(val.encode(), np.uint8) != np.frombuffer(old.encode(), np.uint8)
                count[code] += diff[::-1]
            last[code] = val
    toggles = {}
    for code, nm in ids.items():
        for name in nm:
            if width[code] == 1:
                toggles[name] = int(count[code][0])
            else:
                for i in range(width[code]):
                    toggles[f"{name}[{i}]"] = int(count[code][i])
    return captured, toggles


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def add_power_parser(subparsers) -> None:
    """`quantpe power DESIGN [design options] --stimulus real|random --cycles N --seed S`."""
    from quantpe.cli import _kind_subparsers
    p = subparsers.add_parser("power", help="power/energy from gate-level toggles (sky130 liberty tables)")

    def opts(q):
        q.add_argument("--stimulus", default="real", help="real (digits-model trace) | random [real]")
        q.add_argument("--model", default="mlp", help="the real trace's model: mlp | cnn (digits) [mlp]")
        q.add_argument("--cycles", type=gate_cycles_type, default=10000,
                       help=f"cycles of stimulus, 2..{MAX_GATE_CYCLES:,} [10000]")
        q.add_argument("--seed", type=seed_type, default=1, help="stimulus seed [1]")
        q.add_argument("--clock-mhz", type=clock_type, default=100.0, help="clock frequency [100]")
        q.add_argument("--liberty", type=Path, default=SKY130_LIBERTY, help=f"liberty [{SKY130_LIBERTY}]")
        q.add_argument("--delay", default="zero", help="gate delay model: zero | unit | liberty (the "
                       "liberty's cell delays); unit and liberty count glitches and report the difference "
                       "vs zero-delay [zero]")
        q.add_argument("-o", "--out", type=Path, help="output folder [build/power/<config-id>]")
    _kind_subparsers(p, opts)
    p.set_defaults(func=cmd_power)


def cmd_power(args) -> None:
    from quantpe.cli import config_from_args
    from quantpe.kinds import stimulus_for
    cfg = config_from_args(args)
    if not Path(args.liberty).is_file():
        raise QuantpeError(f"liberty file {args.liberty} not found")
    if args.delay not in DELAY_MODELS:
        raise QuantpeError(f"unknown --delay {args.delay!r} ({' | '.join(DELAY_MODELS)})")
    if args.model != "mlp" and args.stimulus != "real":
        raise QuantpeError("--model chooses the real trace's model: it needs --stimulus real")
    if args.stimulus == "random":
        inputs, _ = stimulus_for(cfg, args.cycles, args.seed)
    elif args.stimulus == "real":
        from quantpe.tb.power_traces import real_trace
        inputs = real_trace(cfg, args.cycles, args.seed, args.model)
    else:
        raise QuantpeError(f"unknown stimulus {args.stimulus!r} (real | random)")
    out = args.out or Path("build") / "power" / cfg.config_id
    created = first_missing(out.absolute())
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    try:
        r = measure_power(cfg, inputs, out_dir=out, liberty=args.liberty, clock_mhz=args.clock_mhz,
                          stimulus=args.stimulus if args.model == "mlp" else f"{args.stimulus}-{args.model}",
                          delay=args.delay)
    except BaseException:              # nothing of a failed run stays: its rtl/ and gate/ folders go
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        else:
            for p in out.iterdir():
                if p.name not in before and p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
        raise
    print(f"{cfg.config_id} ({args.stimulus}, {r['cycles']} cycles, gate outputs == golden on every cycle): "
          f"{r['total_mw']:.4f} mW at {args.clock_mhz:g} MHz (switching {r['switching_mw']:.4f}, internal "
          f"{r['internal_mw']:.4f}, leakage {r['leakage_mw']:.6f}); {r['energy_per_cycle_pj']:.3f} pJ/cycle, "
          f"{r['energy_per_op_pj']:.4f} pJ/{r['op_unit']}; {r['times_s']['total_s']:.1f} s; "
          f"wrote {out / 'power.json'}")
    if args.delay != "zero":
        z = r["zero_delay"]
        print(f"{args.delay} delay: {r['toggles']} toggles (zero-delay {z['toggles']}, {r['glitch_toggles_pct']:+.1f} %), "
              f"{r['total_mw']:.4f} mW (zero-delay {z['total_mw']:.4f} mW, {r['glitch_power_pct']:+.1f} %), "
              f"settled in at most {r['delay_steps']} steps per cycle")
