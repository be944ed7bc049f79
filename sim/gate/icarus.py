"""The gate netlist on Icarus with the liberty's cell models (`icarus_gate_sim`): every net's
toggle count, the reference of the gate engine. Imports: `quantpe.golden`, `quantpe.tb`,
`quantpe.synth`, `quantpe.sim`.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from quantpe.synth.netlist import GateNetlist
from quantpe.sim.harness import HARNESS_TOP, harness_verilog
from quantpe.tb.memfile import hex_to_streams, streams_to_hex


def icarus_gate_sim(built: dict, ports, inputs: dict, work: Path,
                    timeout: float = 600.0) -> tuple[dict, dict]:
    """Reference: the same gate netlist on Icarus (event-driven, zero delay) in the HDL-memory
    harness, with the cell models from the liberty. Returns (captured outputs {port: per-cycle},
    toggles {VCD net name: count over the same window as GateSim}). For cross-checking GateSim.
    Long: harness, compile, run and VCD toggle count in order."""
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
