"""Random input to the parsers: every input either parses to a valid grid or fails with GridError."""
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.core import grid

text = st.text(alphabet="0123456789/:,.-e naINF", max_size=12)


@settings(max_examples=300, deadline=None)
@given(text)
def test_fraction_parser_total(s):
    try:
        values = grid.fractions("--fractions", s)
    except grid.GridError as e:
        assert str(e).startswith("--fractions:")
    else:
        assert values and all(0 < v <= 1 and int(v * 60_000) >= 1 for v in values)


@settings(max_examples=300, deadline=None)
@given(text)
def test_int_steps_parser_total(s):
    try:
        values = grid.int_steps("--widths", s, 0, 12)
    except grid.GridError as e:
        assert str(e).startswith("--widths:")
    else:
        assert values and all(isinstance(v, int) and 0 <= v <= 12 for v in values)


@settings(max_examples=300, deadline=None)
@given(text)
def test_float_list_parser_total(s):
    try:
        values = grid.floats("--dropout", s, 0, 1, hi_open=True)
    except grid.GridError as e:
        assert str(e).startswith("--dropout:")
    else:
        assert values and all(0 <= v < 1 for v in values)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["--widths", "--fractions", "--seeds", "--dropout", "--lr-mult"]), text)
def test_cli_sweep_never_crashes_on_any_flag_value(tmp_path_factory, flag, value):
    db = tmp_path_factory.mktemp("db") / "runs.duckdb"
    code = main(["sweep", f"{flag}={value}", "--dry-run", "--db", str(db), "--device", "cpu"])
    assert code in (0, 2)


def test_huge_ranges_are_refused_before_they_are_built():
    try:
        grid.int_steps("--seeds", "0:2000000000", 0, 2**31 - 1)
    except grid.GridError as e:
        assert "more than a grid may hold" in str(e)
    else:
        raise AssertionError("a 2e9-value range was accepted")


# ---------------------------------------------------------------- the fitters

import math  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, event  # noqa: E402

from scaling.fit import fit_kaplan, fit_parametric, fit_power_law  # noqa: E402

# Anything a table or a broken run could hand a fitter: mostly ordinary values (so fits run to
# the end), sometimes zeros, negatives, NaN, inf, subnormals or the ends of float64.
wild = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                 st.sampled_from([0.0, -1.0, 5e-324, 1e-300, 1e300, 1.7e308]))


@st.composite
def columns(draw, k, lo=1e-2, hi=1e12, max_size=12):
    """k columns of equal length: positive values spanning decades, a few cells maybe wild."""
    n = draw(st.integers(0, max_size))
    cols = [draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)) for _ in range(k)]
    for _ in range(draw(st.integers(0, 2)) if n else 0):
        cols[draw(st.integers(0, k - 1))][draw(st.integers(0, n - 1))] = draw(wild)
    return cols


def _finite_positive(*values):
    return all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns(2), st.booleans())
def test_power_law_fitter_answers_or_refuses(xy, irreducible):
    x, y = xy
    try:
        f = fit_power_law(x, y, irreducible)
    except ValueError as e:
        assert str(e)  # a message, never an empty refusal
        event("refused")
        return
    event("fitted")
    assert _finite_positive(f.A, f.alpha) and math.isfinite(f.E) and f.E >= 0
    assert np.isfinite(f.residuals).all() and f.n_points == len(x)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns(2), st.data())
def test_parametric_fitters_answer_or_refuse(nd, data):
    N, D = nd
    L = data.draw(st.lists(st.floats(0.05, 5.0), min_size=len(N), max_size=len(N)))
    for fitter in (fit_parametric, fit_kaplan):
        try:
            f = fitter(N, D, L)
        except ValueError as e:
            assert str(e)
            event(f"{fitter.__name__} refused")
            continue
        event(f"{fitter.__name__} fitted")
        if fitter is fit_parametric:
            assert _finite_positive(f.E, f.alpha, f.beta) and 0 < f.a < 1
        else:
            assert _finite_positive(f.alpha_N, f.alpha_D)
        assert np.isfinite(f.residuals).all()


bad_cell = st.sampled_from(["", "abc", "1e400", "-0", "nan", "inf", '"', "0x10", "1,5"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns(3, lo=1e-1, hi=1e9), st.lists(bad_cell, max_size=2), st.booleans())
def test_cli_fit_csv_never_crashes_on_any_table(tmp_path_factory, cols, bad, header):
    rows = [[repr(v) for v in r] for r in zip(*cols)]
    for i, cell in enumerate(bad):  # text where a number should be
        if rows:
            rows[i % len(rows)][i % 3] = cell
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text("\n".join((["N,D,L"] if header else []) + [",".join(r) for r in rows]) + "\n")
    code = main(["fit", "--csv", str(path), "--n-col", "N", "--d-col", "D", "--loss-col", "L", "--bootstrap", "3"])
    assert code in (0, 2)
    event(f"exit {code}")
