"""quantpe.sim.gate: gate-level simulation of a mapped netlist, the energy flow's toggles.

`engine.GateSim` a levelised, cycle-vectorised zero-delay engine over a `GateNetlist`, with the
timed re-simulation of each cycle boundary (unit or liberty delays, inertial) that counts
glitches; `icarus.icarus_gate_sim` the same netlist on Icarus with the liberty's cell models
(the engine's reference). Imports: layers 0-4.
"""
