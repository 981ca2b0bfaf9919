"""The live charts' specs depend on the page and the kind of selection, not on its numbers: two
selections that differ only in numbers (another width range, the point estimates against the
bootstrapped analysis) give the same spec but for its data, so Streamlit updates the drawn chart in
place (docs/performance.md)."""
import numpy as np
import pandas as pd
import pytest

from scaling import charts, services
from scaling.charts import compare as compare_charts
from scaling.core.config import RunConfig
from scaling.store import Store
from scaling.training.train import RunResult


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    rng = np.random.default_rng(0)
    results = []
    for w in range(7):
        for f in (2.0 ** -k for k in range(7, 0, -1)):
            for s in range(2):
                c = RunConfig(width_step=w, data_fraction=f, seed=s, dropout=0.0)
                loss = (0.05 + 60 * c.params ** -0.45 + 40 * c.examples ** -0.35) * np.exp(0.03 * rng.standard_normal())
                results.append(RunResult(c, float(loss), float(np.exp(-2 * loss)), float(0.9 * loss), 1e-9 * c.flops,
                                         "synthetic", "ok"))
    store = Store(tmp_path_factory.mktemp("stable") / "runs.duckdb")
    store.add_results(results)
    return store.runs(status=None)


def shape(fig) -> dict:
    """A Figure's spec without its data: what Streamlit compares to decide on a redraw in place."""
    return {k: v for k, v in fig.spec().items() if k != "datasets"}


def exponent_table(an, labels):
    """Compare's exponents chart's table: every selection the same analysis, under its own label."""
    iv = {k: an.intervals.get(k) for k in ("alpha_C", "alpha_N")}
    return pd.DataFrame([{"name": k, "selection": lab, "value": an.scalars().get(k, np.nan),
                          "lo": iv[k].lo if iv[k] else np.nan, "hi": iv[k].hi if iv[k] else np.nan}
                         for k in iv for lab in labels])


def page(runs, widths, n_boot):
    sel = services.Selection(dropout=0.0, widths=widths)
    an = services.analysis(runs, None, sel, n_boot=n_boot)
    ok = services.chart_runs(runs, sel)
    law = an.loss_vs_compute
    pts = an.aggregate.points
    figs = {
        "loss": charts.loss_vs_compute(ok, pts, an.frontier, law, services.law_line(law), services.law_band(an),
                                       services.equation(law)),
        "accuracy": charts.accuracy_vs_compute(pts),
        "bottleneck D": charts.bottleneck(pts, "examples"), "bottleneck N": charts.bottleneck(pts, "params"),
        "nopt": charts.nopt_vs_compute(an.nopt["parametric"], services.nopt_band(an.nopt["parametric"]),
                                       data=services.nopt_data_points(an)),
        # Compare's labels name the selections' values: they go to the data, never to the spec
        "compare": compare_charts.frontiers({f"A: widths {widths}": an.frontier, f"B: widths {widths}": an.frontier},
                                            {f"A: widths {widths}": services.law_line(law)}),
        "compare exponents": compare_charts.exponents(exponent_table(an, [f"{k}: widths {widths}" for k in "ABC"])),
        "isoflop": charts.isoflop_curves(services.isoflop_profiles(pts), an.nopt["isoflop"]),
        "estimators": charts.nopt_estimators(an.nopt),
        "residuals": charts.residuals(services.parametric_residuals(an)),
    }
    bt = services.backtest(runs, sel, 1.0)
    figs |= {"pred loss": charts.prediction(bt.heldout, "loss"), "pred N": charts.prediction(bt.heldout, "N_opt")}
    return figs


def test_a_spec_is_the_same_across_selections_that_differ_in_numbers(runs):
    a, b = page(runs, (0, 6), 0), page(runs, (1, 5), 8)  # other widths; the second with its bands
    for name in a:
        assert shape(a[name]) == shape(b[name]), name
        assert set(a[name].data) == set(b[name].data), name  # the same named data sets
    # the numbers that did change went to the data and the caption
    assert a["loss"].caption != b["loss"].caption and "C^−" in a["loss"].caption
    assert a["loss"].data["band"].empty and len(b["loss"].data["band"])  # the band layer is there either way
    for fig in a.values():
        fig.validate()


def test_log_axes_carry_no_numbers_of_the_data(runs):
    spec = str(shape(page(runs, (0, 6), 0)["loss"]))
    assert "domain('y')" in spec and "'domain': [" not in spec  # ticks from an expression on Vega's own domain


def test_the_nopt_chart_is_the_same_whichever_estimator_it_shows(runs):
    sel = services.Selection(dropout=0.0)
    an = services.analysis(runs, None, sel, n_boot=0)
    figs = [charts.nopt_vs_compute(an.nopt[m], services.nopt_band(an.nopt[m]), data=services.nopt_data_points(an))
            for m in ("envelope", "parametric")]
    assert shape(figs[0]) == shape(figs[1])
    assert "envelope" in figs[0].caption and "parametric" in figs[1].caption
    assert set(figs[0].data["pts"]["fill"]) <= {1.0} and set(figs[1].data["pts"]["fill"]) <= {0.0}  # dots, rings


def test_what_a_page_sends_is_the_same_data_as_the_spec(runs):
    """Figure.wire (Arrow tables, what the pages send) against spec() (DataFrames): the same spec and,
    once turned into the Arrow bytes Streamlit ships, the same frames, on every chart of a page."""
    import pyarrow as pa
    from streamlit import dataframe_util

    def frame(data) -> pd.DataFrame:
        return pa.ipc.open_stream(dataframe_util.convert_anything_to_arrow_bytes(data)).read_all().to_pandas()

    for name, fig in page(runs, (1, 5), 8).items():
        spec, wire = fig.spec(), fig.wire()
        assert {k: v for k, v in wire.items() if k != "datasets"} == shape(fig), name
        assert list(wire["datasets"]) == list(spec["datasets"]), name
        for k, df in spec["datasets"].items():
            pd.testing.assert_frame_equal(frame(wire["datasets"][k]), frame(df).reset_index(drop=True), obj=f"{name}/{k}")
