"""quantpe.rtl: Amaranth 0.5 generators of the processing elements.

`build_component(cfg)` returns the `wiring.Component` for any registered design config; each PE
module documents its ports and its latency, and mirrors a golden model in `quantpe.golden`.
"""
