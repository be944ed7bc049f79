"""quantpe.rtl: Amaranth 0.5 generators of the processing elements.

`quantpe.core.kinds.build_component(cfg)` returns the `wiring.Component` of any registered
design config; each PE module documents its ports and its latency, and mirrors a golden model in
`quantpe.golden`. `generate.to_verilog` is the one conversion to Verilog: it routes Amaranth's
built-in Yosys through `builtin_yosys` (an explicit, documented patch of Amaranth's toolchain
module, applied on the first conversion, not at import). `generate.ensure_generated` keeps one
generated Verilog file per config in the build cache.
Imports: `quantpe.golden` and `quantpe.core` (registry, build cache, interrupt); Amaranth.
"""
