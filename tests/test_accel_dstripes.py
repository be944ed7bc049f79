"""The Dynamic Stripes figure of the accelerator report (`report.accel.dstripes_rows`): the digits
CNN's conv layers at the 100%-accuracy static profile, Stripes against Dynamic Stripes cycles
from the two mappers."""
from quantpe.report.accel import DSTRIPES_TILES, dstripes_rows


def test_dstripes_rows():
    rows = dstripes_rows(1)
    by = {(r["tile"], r["layer"]): r for r in rows}
    convs = [r["layer"] for r in rows if r["tile"] == "16x16" and r["layer"] != "conv layers"]
    assert convs == ["conv1", "conv2", "dw3", "pw4"]
    for tile in DSTRIPES_TILES:
        layer_rows = [by[tile, n] for n in convs]
        assert by[tile, "conv layers"]["stripes"] == sum(r["stripes"] for r in layer_rows)
        assert by[tile, "conv layers"]["dstripes"] == sum(r["dstripes"] for r in layer_rows)
        for r in layer_rows:             # detection never needs more than the profiled window
            assert 1 <= r["mean_detected"] <= r["precision"] and r["dstripes"] < r["stripes"]
    # lockstep costs: one window of 16 filters gains the most, the paper's 16 windows the least
    ratios = [by[t, "conv layers"]["ratio"] for t in ("16x16", "4x4", "1x16")]
    assert ratios == sorted(ratios) and ratios[-1] >= 1.3
