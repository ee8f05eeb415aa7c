"""analysis.plots: accuracy against latency, one panel, or two with a zoom on the top points."""
import struct

from analysis.plots import accuracy_vs_T


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def _rows(spread):
    return [{"method": m, "T_infer": T, "accuracy": a, "seed": s}
            for s in (0, 1)
            for m, base in (("spike-count T_train=4", 0.99), ("QCFS L=4, V(0)=theta/2", 0.98))
            for T, a in ((1, base - spread), (4, base - 0.001 * s), (16, base))]


def test_zoom_panel_only_when_the_curves_span_more_than_five_points(tmp_path):
    one = _png_size(accuracy_vs_T(_rows(0.02), tmp_path / "one.png"))
    two = _png_size(accuracy_vs_T(_rows(0.50), tmp_path / "two.png"))
    assert two[0] > 1.3 * one[0] and two[1] == one[1]  # a second panel beside the first, same height
