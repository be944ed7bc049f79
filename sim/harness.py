"""Generic HDL-memory test harness for PEs that never stall.

The harness replays a stimulus memory into the DUT, one word per cycle, and captures every
output on every cycle into a second memory, so the simulator runs free and the scoreboard
compares all cycles at once in numpy (about 10x faster than a per-cycle Python driver).

Timing contract (cycle t = the t-th clock period after reset is released):
the DUT inputs during cycle t are stim[t]; cap[t] holds the DUT outputs during cycle t
(sampled just before the rising edge that ends it), i.e. what a per-cycle monitor would see.
Plusargs: +stim=FILE (readmemh), +cap=FILE (writememh target), +cycles=N (N <= DEPTH).
Output `done` rises once the capture file is written.

Verilator builds of the harness (`verilator_harness_args`): cocotb only drives `clk`/`rst` and
waits for `done`, so only those three harness signals are made visible to VPI (a control file)
instead of every signal of the design (cocotb's default `--public-flat-rw`), which lets
Verilator optimise the DUT: a 48-multiplier bank compiled about 2x faster and ran 2x faster.

Clock-less DUTs: the harness always has its own `clk`/`rst` (they step the memories), but it
connects them to the DUT only when the DUT has such ports (`clock`/`reset` = None leaves them
out), so a combinational module (an approximate multiplier, a user's Verilog) is tested with
the same timing contract: cap[t] = f(stim[t]) for a combinational f.
"""
from __future__ import annotations

import re

from quantpe.golden.atomic import write_text
from quantpe.golden.errors import QuantpeError
from quantpe.tb.memfile import word_bits

__all__ = ["harness_verilog", "HARNESS_TOP", "module_header_ports", "verilator_harness_args"]

HARNESS_TOP = "quantpe_harness"

#: the harness signals cocotb touches (tb.clocking.run_harness)
HARNESS_VPI_SIGNALS = ("clk", "rst", "done")


def verilator_harness_args(build_dir) -> list[str]:
    """Verilator arguments of a harness build: cocotb's `--public-flat-rw` turned off and a
    control file (written into `build_dir`) that keeps HARNESS_VPI_SIGNALS public."""
    from pathlib import Path

    text = "`verilator_config\n" + "".join(
        f'public_flat_rw -module "{HARNESS_TOP}" -var "{name}"\n' for name in HARNESS_VPI_SIGNALS)
    vlt = Path(build_dir) / "harness_vpi.vlt"
    if not vlt.is_file() or vlt.read_text() != text:
        write_text(vlt, text)
    return ["--no-public-flat-rw", str(vlt)]


def module_header_ports(verilog_text: str, top: str) -> set[str]:
    """Identifiers in the port list `module top ( ... );` of `verilog_text` (ANSI or not).

    Enough to tell whether a module has a `clk`/`rst` port; QuantpeError if `top` is absent.
    """
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", verilog_text, flags=re.S)
    m = re.search(r"\bmodule\s+" + re.escape(top) + r"\s*(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?\(([^;]*?)\)\s*;",
                  text)
    if m is None:
        raise QuantpeError(f"module {top!r} not found in the Verilog")
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", m.group(1)))


def harness_verilog(top: str, ports, depth: int, clock: str | None = "clk",
                    reset: str | None = "rst") -> str:
    """Harness Verilog for DUT `top` with the data `ports`; `clock`/`reset` name the DUT's
    clock and reset ports, None when it has none (they are then not connected)."""
    ins = [p for p in ports if p.direction == "in"]
    outs = [p for p in ports if p.direction == "out"]
    sw, cw = word_bits(ins), word_bits(outs)
    conns, pos = [], 0
    for p in ins:
        conns.append(f"    .{p.name}(stim_word[{pos + p.bits - 1}:{pos}])")
        pos += p.bits
    wires = "\n".join(f"  wire [{p.bits - 1}:0] o_{p.name};" for p in outs)
    conns += [f"    .{p.name}(o_{p.name})" for p in outs]
    cap_word = "{" + ", ".join(f"o_{p.name}" for p in reversed(outs)) + "}"
    conns = [f"    .{n}({h})" for n, h in ((clock, "clk"), (reset, "rst")) if n] + conns
    port_list = ",\n".join(conns)
    return f"""// quantpe HDL-memory harness for {top} (generated; see quantpe/sim/harness.py)
`timescale 1ns/1ps
module {HARNESS_TOP} #(parameter DEPTH = {depth}) (input clk, input rst, output reg done);
  reg [{sw - 1}:0] stim [0:DEPTH-1];
  reg [{cw - 1}:0] cap [0:DEPTH-1];
  reg [8*1024-1:0] stim_file, cap_file;
  integer cycles;
  reg [31:0] cyc;
  reg finished;
  wire [{sw - 1}:0] stim_word = finished ? {sw}'d0 : stim[cyc];
{wires}
  {top} dut (
{port_list}
  );
  initial begin
    done = 1'b0;
    if (!$value$plusargs("stim=%s", stim_file)) $fatal(1, "harness: +stim=FILE missing");
    if (!$value$plusargs("cap=%s", cap_file)) $fatal(1, "harness: +cap=FILE missing");
    if (!$value$plusargs("cycles=%d", cycles)) $fatal(1, "harness: +cycles=N missing");
    if (cycles < 1 || cycles > DEPTH) $fatal(1, "harness: cycles out of range");
    $readmemh(stim_file, stim, 0, cycles - 1);
  end
  always @(posedge clk) begin
    if (rst) begin
      cyc <= 0;
      finished <= 1'b0;
    end else if (!finished) begin
      cap[cyc] <= {cap_word};
      if (cyc == cycles - 1) finished <= 1'b1;
      cyc <= cyc + 1;
    end else if (!done) begin
      $writememh(cap_file, cap, 0, cycles - 1);
      done <= 1'b1;
    end
  end
endmodule
"""
