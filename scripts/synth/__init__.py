"""quantpe.synth: synthesis (layer 3; imports `quantpe.golden`, `quantpe.core`, `quantpe.rtl`).

`yosys` the one Yosys runner and version probe; `liberty` the liberty reader, the bundled
library's path and the one sky130 lookup; `cell_power` a liberty's power and timing tables;
`cell_library` the writer of the bundled `quantpe_cells.lib`; `area` Verilog -> area.json and
area delta tables; `flow` the cached area of a design config or Verilog file; `netlist` gate
netlists for simulation and STA; `ports` a Verilog module's ports (the check of a user's file).
"""
