"""quantpe.sim: building and running simulations (toolchain, harness, runner, capture, regressions;
`gate` the gate-level engine). Layer 4: imports `quantpe.golden`, `quantpe.core`, `quantpe.rtl`,
`quantpe.tb`, `quantpe.synth`.
"""
