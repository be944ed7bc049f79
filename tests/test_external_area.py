"""`quantpe characterize --verilog` measures the module's area with the generated units' flow.

Independent references: a module of four 2-input ANDs must cost four AND2 cells of the built-in
liberty (area read from the .lib text here, not from the synthesis code), a module with no logic
costs nothing, and the figure equals a direct `quantpe.synth.area.synthesize` of the same file.
"""
import json
import re

import pytest

from quantpe.synth.liberty import DEFAULT_LIBERTY

AND4 = "module andy (input [3:0] a, input [3:0] b, output [7:0] y);\n  assign y = {4'b0, a & b};\nendmodule\n"
ZERO4 = "module zero (input [3:0] a, input [3:0] b, output [7:0] y);\n  assign y = 8'd0;\nendmodule\n"


def _cell_area(name: str) -> float:
    text = DEFAULT_LIBERTY.read_text()
    m = re.search(r"cell\s*\(\s*" + name + r"\s*\)\s*\{\s*area\s*:\s*([0-9.]+)", text)
    assert m, name
    return float(m.group(1))


def test_area_of_an_external_module_is_measured_and_recorded(build, cli):
    f = build / "and.v"
    f.write_text(AND4)
    code, out, err = cli(["characterize", "--verilog", f, "--top", "andy", "--a-bits", 4, "--b-bits", 4,
                           "--sim", "icarus", "-o", build / "o"])
    assert code == 0, err
    doc = json.loads((build / "o" / "andy-u4x4.json").read_text())
    assert doc["area"]["cells"] == {"AND2": 4}
    assert doc["area"]["area_um2"] == pytest.approx(4 * _cell_area("AND2"))
    assert f"{doc['area']['area_um2']:,.1f} um^2" in out
    from quantpe.synth.area import synthesize
    direct = synthesize(f, "andy", build / "direct")
    assert direct["area_um2"] == doc["area"]["area_um2"]


def test_no_logic_costs_nothing_and_no_area_skips_synthesis(build, cli):
    f = build / "zero.v"
    f.write_text(ZERO4)
    code, _, err = cli(["characterize", "--verilog", f, "--top", "zero", "--a-bits", 4, "--b-bits", 4,
                         "--sim", "icarus", "-o", build / "o"])
    assert code == 0, err
    assert json.loads((build / "o" / "zero-u4x4.json").read_text())["area"]["area_um2"] == 0
    code, out, err = cli(["characterize", "--verilog", f, "--top", "zero", "--a-bits", 4, "--b-bits", 4,
                           "--sim", "icarus", "--no-area", "-o", build / "p"])
    assert code == 0, err
    assert "area" not in json.loads((build / "p" / "zero-u4x4.json").read_text()) and "um^2" not in out


@pytest.mark.parametrize("extra, msg", [
    (["--liberty", "{tmp}/missing.lib"], "liberty file"),
    (["--liberty", "{tmp}/missing.lib", "--no-area"], "exclude each other"),
])
def test_bad_area_options(build, cli, extra, msg):
    f = build / "zero.v"
    f.write_text(ZERO4)
    extra = [e.replace("{tmp}", str(build)) for e in extra]
    code, _, err = cli(["characterize", "--verilog", f, "--top", "zero", "--a-bits", 4, "--b-bits", 4,
                         "--sim", "icarus", *extra, "-o", build / "o"])
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1
    assert not (build / "o").exists()


def test_area_options_belong_to_verilog(build, cli):
    code, _, err = cli(["characterize", "--method", "exact", "--no-area", "-o", build / "o"])
    assert code == 2 and "apply to --verilog only" in err


EVO4S = ("module mul4s_demo(A, B, O);\n  input [3:0] A;\n  input [3:0] B;\n  output [7:0] O;\n"
         "  assign O = $signed(A) * $signed(B);\nendmodule\n")
NOLSB4 = "module nolsb (input [3:0] a, input [3:0] b, output [7:0] y);\n  assign y = (a * b) & 8'hfe;\nendmodule\n"
DECL4S = ("module decl (input signed [3:0] a, input signed [3:0] b, output signed [7:0] y);\n"
          "  assign y = a * b;\nendmodule\n")


def test_external_units_folder(build):
    from quantpe.explore.characterize import external_units
    from quantpe.golden.errors import QuantpeError
    d = build / "mults"
    d.mkdir()
    (d / "mul4s_demo.v").write_text(EVO4S)        # EvoApprox names and ports: signed by its name
    (d / "nolsb.v").write_text(NOLSB4)
    (d / "decl.v").write_text(DECL4S)             # signed by its port declarations
    units = {u.name: u for u in external_units(d)}
    assert sorted(units) == ["decl", "mul4s_demo", "nolsb"]
    assert units["mul4s_demo"].signed and units["decl"].signed and not units["nolsb"].signed
    assert units["mul4s_demo"].metrics.ep == 0 and units["decl"].metrics.ep == 0
    # nolsb: the product's LSB is 1 exactly when a and b are both odd: 64 of 256 pairs, error -1
    assert units["nolsb"].metrics.ep == 64 / 256 and units["nolsb"].metrics.bias == -64 / 256
    assert all(u.area_um2 > 0 and (u.a_bits, u.b_bits) == (4, 4) for u in units.values())
    (d / "two.v").write_text(NOLSB4 + DECL4S)
    with pytest.raises(QuantpeError, match="cannot tell the multiplier module"):
        external_units(d)
    with pytest.raises(QuantpeError, match="no .v files"):
        external_units(build)


def test_external_rows_use_the_sweep_reference(build):
    from quantpe.report.approx import _external_rows
    from quantpe.explore.characterize import ExternalUnit
    from quantpe.golden.characterize import characterize_table
    from quantpe.golden.approx import exact_table
    m = characterize_table(exact_table(4, 4, False), False)
    u = ExternalUnit("mine", build / "mine.v", 4, 4, False, m, 300.0)
    (row,) = _external_rows([u], {(4, 4, False): ("array", 400.0)})
    assert row["area_saving_pct"] == pytest.approx(25.0) and row["reference"] == "array" and row["mred_pct"] == 0


@pytest.mark.parametrize("args, msg", [
    (["--external-mults", "{tmp}/none", "--only", "approxmul"], "external multiplier folder"),
    (["--external-mults", "{tmp}", "--only", "strum"], "which --only leaves out"),
])
def test_report_external_mults_errors(build, cli, args, msg):
    code, _, err = cli(["report", "-o", build / "rep", *[a.replace("{tmp}", str(build)) for a in args]])
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (build / "rep").exists()
