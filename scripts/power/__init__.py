"""quantpe.power: energy from gate-level toggles (layer 5; imports layers 0-4).

`energy` the energy model of a mapped netlist from per-net toggles and the liberty's tables (and
the OpenSTA 2019 replay); `measure` `measure_power(cfg, inputs)`: RTL -> gate netlist -> gate
simulation checked against the golden model on every cycle -> toggles -> energy, cached.
"""
