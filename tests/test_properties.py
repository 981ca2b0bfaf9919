"""Random input to the parsers: every input either parses to a valid grid or fails with GridError."""
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling import grid
from scaling.cli import main

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
