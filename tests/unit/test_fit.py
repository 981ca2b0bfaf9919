"""Fitting core: published Chinchilla numbers, known synthetic laws, refusal of bad input."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from scaling.fit import (
    aggregate,
    analyze,
    backtest,
    bootstrap,
    compare,
    fit_kaplan,
    fit_parametric,
    fit_power_law,
    fit_table,
    format_analysis,
    frontier,
    nopt_envelope,
    nopt_isoflop,
    nopt_parametric,
    synthetic_sweep,
)
from scaling.fit.optim import huber, one_blas_thread
from scaling.fit.synthetic import TRUTH

CHINCHILLA = Path(__file__).resolve().parents[1] / "data" / "chinchilla_fig4_extracted.csv"
A_TRUE = TRUTH["beta"] / (TRUTH["alpha"] + TRUTH["beta"])   # N_opt exponent of the synthetic law


@pytest.fixture(scope="module")
def chinchilla():
    return pd.read_csv(CHINCHILLA)


@pytest.fixture(scope="module")
def sweep():
    return synthetic_sweep(seed=3, bad_runs=6)


# ---------------------------------------------------------------- published results

def test_chinchilla_lands_on_epoch_replication(chinchilla):
    fit = fit_table(chinchilla, n_col="Model Size", loss_col="loss", c_col="Training FLOP",
                    drop_highest=5)
    assert fit.n_points == 240
    assert abs(fit.E - 1.817) < 0.01
    assert abs(fit.alpha - 0.348) < 0.005
    assert abs(fit.beta - 0.366) < 0.005
    assert abs(fit.a - 0.513) < 0.01
    # summed Huber + L-BFGS: A ~ 478, B ~ 2144 (Epoch's reference); not Hoffmann's 406.4 / 410.7
    assert abs(fit.A - 477.8) < 5 and abs(fit.B - 2143.9) < 25
    assert abs(fit.B - 410.7) > 500 and abs(fit.beta - 0.2849) > 0.05


def test_averaged_huber_with_default_tolerance_is_the_trap(chinchilla):
    # The mistake behind Hoffmann et al.'s fit: mean (not summed) Huber, default tolerances.
    # L-BFGS then stops after a few steps, far from the optimum that fit_table finds.
    df = chinchilla.sort_values("loss").iloc[:-5]
    lnN = np.log(df["Model Size"].to_numpy())
    lnD = np.log(df["Training FLOP"].to_numpy()) - np.log(6) - lnN
    lnL = np.log(df["loss"].to_numpy())

    def mean_huber(p):
        a, b, e, al, be = p
        pred = np.logaddexp.reduce([a - al * lnN, b - be * lnD, np.full_like(lnN, e)], axis=0)
        return huber(pred - lnL, 1e-3).mean()

    trapped = minimize(mean_huber, [5.0, 5.0, 0.5, 0.5, 0.5], method="L-BFGS-B")
    assert abs(trapped.x[3] - 0.348) > 0.05


def test_no_start_on_hoffmanns_grid_does_better(chinchilla):
    # Hoffmann's grid has 4,500 starts (~70 s here; checked once: same optimum to 1e-15).
    # A random 60 of them must not beat the variable-projection starts.
    from scaling.fit.optim import LBFGS as _LBFGS
    from scaling.fit.parametric import _chinchilla_objective
    df = chinchilla.sort_values("loss").iloc[:-5]
    N = df["Model Size"].to_numpy()
    D, L = df["Training FLOP"].to_numpy() / (6 * N), df["loss"].to_numpy()
    ours = fit_parametric(N, D, L).objective
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(0, 30, 5), np.arange(0, 30, 5), np.arange(-1, 1.5, 0.5),
                                np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5)), -1).reshape(-1, 5)
    args = (np.log(N), np.log(D), np.log(L), 1e-3)
    bounds = [(None, None)] * 3 + [(1e-4, 5.0)] * 2
    with one_blas_thread():   # see fit.optim: OpenBLAS threads make tiny L-BFGS steps slow
        best = min(minimize(_chinchilla_objective, p0, args=args, bounds=bounds, **_LBFGS).fun
                   for p0 in grid[rng.choice(len(grid), 60, replace=False)])
    assert ours <= best * 1e-3 * (1 + 1e-9)


def test_fit_table_with_a_data_column():
    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(1e3, 1e6, 6), 6)
    D = np.tile(np.geomspace(1e4, 1e7, 6), 6)
    L = (0.3 + 50 / N ** 0.35 + 80 / D ** 0.3) * np.exp(0.003 * rng.standard_normal(36))
    f = fit_table(pd.DataFrame({"n": N, "d": D, "loss": L}), "n", "loss", d_col="d")
    assert f.alpha == pytest.approx(0.35, abs=0.03) and f.beta == pytest.approx(0.3, abs=0.03)
    assert f.a == pytest.approx(0.3 / 0.65, abs=0.02)


def test_chinchilla_vendored_copy_matches_shared_reference():
    shared = Path(__file__).resolve().parents[3] / "shared/reference/chinchilla_fig4_extracted.csv"
    if not shared.exists():
        pytest.skip("no ../shared checkout beside the repo")
    assert shared.read_bytes() == CHINCHILLA.read_bytes()


def test_chinchilla_bootstrap_intervals_and_json(chinchilla):
    fit = fit_table(chinchilla, "Model Size", "loss", c_col="Training FLOP", drop_highest=5,
                    n_boot=40, seed=1)
    d = json.loads(json.dumps(fit.to_dict()))
    assert set(d) == {"E", "A", "B", "alpha", "beta", "a", "intervals"}
    for k in ("E", "alpha", "beta", "a"):
        iv = d["intervals"][k]
        assert iv["lo"] <= d[k] <= iv["hi"] and iv["n_boot"] == 40
    # Epoch's 95% intervals: alpha (0.317, 0.373), beta (0.331, 0.415); ours are as wide, roughly
    assert 0.30 < d["intervals"]["alpha"]["lo"] < 0.345 < 0.35 < d["intervals"]["alpha"]["hi"] < 0.40
    assert "alpha" in fit.format()


def test_to_dict_without_bootstrap_has_exactly_the_cli_keys(chinchilla):
    fit = fit_table(chinchilla, "Model Size", "loss", c_col="Training FLOP", drop_highest=5)
    assert set(fit.to_dict()) == {"E", "A", "B", "alpha", "beta", "a"}
    assert all(isinstance(v, float) for v in fit.to_dict().values())


def test_kaplan_form_on_chinchilla(chinchilla):
    df = chinchilla.sort_values("loss").iloc[:-5]
    N = df["Model Size"].to_numpy()
    k = fit_kaplan(N, df["Training FLOP"].to_numpy() / (6 * N), df["loss"].to_numpy())
    assert 0 < k.alpha_N < 0.3 and 0 < k.alpha_D < 0.3
    assert np.sqrt(np.mean(k.residuals ** 2)) < 0.03
    # data bottleneck: at fixed D, growing N plateaus at (Dc/D)^alpha_D
    D = 1e10
    assert k.predict(1e15, D) == pytest.approx((k.Dc / D) ** k.alpha_D, rel=1e-3)


# ---------------------------------------------------------------- known laws

def test_power_law_recovers_parameters():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e6, 1e12, 15)
    y = 3.0 * x ** -0.1 * np.exp(0.005 * rng.standard_normal(15))
    f = fit_power_law(x, y)
    assert f.E == 0 and f.alpha == pytest.approx(0.1, abs=0.005) and f.n_points == 15
    y = 0.5 + 40.0 * x ** -0.25 * np.exp(0.002 * rng.standard_normal(15))
    g = fit_power_law(x, y, irreducible=True)
    assert g.E == pytest.approx(0.5, abs=0.03) and g.alpha == pytest.approx(0.25, abs=0.02)
    assert g.residuals.shape == (15,) and np.allclose(g.predict(x), y, rtol=0.01)


def test_power_law_is_robust_to_an_outlier():
    x = np.geomspace(1e6, 1e12, 12)
    y = 3.0 * x ** -0.1
    y[5] *= 1.5
    assert fit_power_law(x, y).alpha == pytest.approx(0.1, abs=1e-3)


def test_parametric_recovers_synthetic_law(sweep):
    pts = aggregate(sweep[0]).points
    f = fit_parametric(pts["params"], pts["examples"], pts["val_loss"])
    assert f.alpha == pytest.approx(TRUTH["alpha"], abs=0.06)
    assert f.beta == pytest.approx(TRUTH["beta"], abs=0.04)
    assert f.a == pytest.approx(A_TRUE, abs=0.04)
    C = np.array([1e9, 1e10])
    assert f.nopt(C, 84.0) * f.dopt(C, 84.0) == pytest.approx(C / 84.0)


def test_noiseless_sweep_gives_exact_nopt_exponents():
    runs, curves = synthetic_sweep(seeds=1, noise=0.0)
    assert nopt_parametric(runs).a == pytest.approx(A_TRUE, abs=1e-4)
    assert nopt_isoflop(runs).a == pytest.approx(A_TRUE, abs=0.01)
    assert nopt_envelope(runs, curves).a == pytest.approx(A_TRUE, abs=0.015)


def test_nopt_uses_the_measured_compute_law():
    # FLOPs ~ N^0.9: N_opt ~ C^(beta/(alpha + 0.9 beta)), which the envelope and IsoFLOP
    # estimators see directly in C; the parametric estimator must agree with them.
    runs, curves = synthetic_sweep(seeds=1, noise=0.0, flops_gamma=0.9)
    a = TRUTH["beta"] / (TRUTH["alpha"] + 0.9 * TRUTH["beta"])
    an = analyze(runs, curves, n_boot=0)
    assert an.compute.gamma == pytest.approx(0.9, abs=1e-6)
    assert an.nopt["parametric"].a == pytest.approx(a, abs=1e-4)
    assert an.nopt["isoflop"].a == pytest.approx(a, abs=0.01)
    assert an.parametric.a == pytest.approx(A_TRUE, abs=1e-4)     # Chinchilla's ratio, unchanged


def test_exponents_inside_their_intervals_in_most_repetitions():
    # Truth for the N_opt exponents is beta/(alpha+beta). The frontier exponent of a finite
    # grid is not the asymptotic alpha*beta/(alpha+beta); its truth is the noiseless estimate.
    clean = analyze(*synthetic_sweep(seeds=1, noise=0.0), n_boot=0, irreducible=True)
    truth = {"alpha_C": clean.loss_vs_compute.alpha, "a_envelope": A_TRUE,
             "a_isoflop": A_TRUE, "a_parametric": A_TRUE}
    hits = dict.fromkeys(truth, 0)
    reps = 4
    for r in range(reps):
        an = analyze(*synthetic_sweep(seed=50 + r), n_boot=60, seed=r, irreducible=True)
        for k, v in truth.items():
            iv = an.intervals[k]
            assert iv.n_boot >= 50
            hits[k] += iv.contains(v)
    assert all(h >= reps - 1 for h in hits.values()), hits


# ---------------------------------------------------------------- aggregation and frontier

def test_aggregate_excludes_counts_and_averages_seeds(sweep):
    runs, _ = sweep
    ag = aggregate(runs)
    assert sum(ag.excluded.values()) == 6 and set(ag.excluded) <= {"diverged", "failed"}
    assert ag.n_runs == len(runs) - 6 and len(ag.points) == 64
    row = ag.points.iloc[10]
    same = runs[(runs.status == "ok") & (runs.width_step == row.width_step)
                & (runs.data_fraction == row.data_fraction)]
    assert row.val_loss == pytest.approx(same.val_loss.mean())
    assert row.n_seeds == len(same)
    assert row.val_loss_std == pytest.approx(same.val_loss.std(), nan_ok=True)


def test_lr_tuned_picks_lowest_mean_and_reports_it():
    runs, _ = synthetic_sweep(width_steps=range(3), fractions=(1.0, 0.5), seeds=2,
                              lr_mults=(0.5, 1.0, 2.0), n_curve=2, noise=0.0)
    # make lr 2 best for width step 1 only
    m = (runs.width_step == 1) & (runs.lr_mult == 2.0)
    runs.loc[m, "val_loss"] *= 0.5
    ag = aggregate(runs, lr="tuned")
    ch = ag.lr_choice.set_index(["width_step", "data_fraction"])["lr_mult"]
    assert (ch.xs(1, level="width_step") == 2.0).all()
    assert (ch.drop(1, level="width_step") == 1.0).all()
    assert ag.lr_choice["candidates"].map(len).eq(3).all()
    fixed = aggregate(runs, lr=0.5)
    assert (fixed.points.lr_mult == 0.5).all() and fixed.lr_choice is None
    with pytest.raises(ValueError, match="no runs with lr_mult=3"):
        aggregate(runs, lr=3.0)


def test_frontier_handles_ties_and_sorts():
    pts = pd.DataFrame({"flops": [4, 1, 2, 2, 3, 5], "val_loss": [0.5, 1.0, 0.9, 0.8, 0.85, 0.6]})
    f = frontier(pts)
    assert f.flops.tolist() == [1, 2, 4]                 # (2, 0.9) loses to (2, 0.8) at equal C
    assert f.val_loss.tolist() == [1.0, 0.8, 0.5]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=1, max_size=12))
def test_frontier_matches_its_definition(pairs):
    pts = pd.DataFrame(pairs, columns=["flops", "val_loss"]).astype(float)
    on = frontier(pts)
    C, L = pts.flops.to_numpy(), pts.val_loss.to_numpy()
    beaten = [((C <= c) & (L < l)).any() for c, l in zip(C, L)]
    expect = pts[~np.array(beaten)].sort_values("flops")
    assert sorted(map(tuple, on.to_numpy())) == sorted(map(tuple, expect.to_numpy()))
    assert on.flops.is_monotonic_increasing


# ---------------------------------------------------------------- whole answers

def test_analyze_point_estimates_and_text(sweep):
    runs, curves = sweep
    an = analyze(runs, curves, n_boot=0)
    assert an.intervals == {} and an.n_runs == len(runs) - 6
    assert all(an.nopt[m].ok for m in ("envelope", "isoflop", "parametric"))
    for m in an.nopt.values():
        assert m.a == pytest.approx(A_TRUE, abs=0.06) and len(m.points) >= 3
    text = format_analysis(an)
    assert "alpha_C" in text and "isoflop" in text and "excluded" in text
    json.dumps(an.to_dict())


def test_analyze_with_bootstrap_attaches_intervals(sweep):
    runs, curves = sweep
    an = analyze(runs, curves, n_boot=20, seed=0)
    assert an.loss_vs_compute.alpha_interval.n_boot == 20
    for m in an.nopt.values():
        assert m.interval is not None and m.interval.lo <= m.a <= m.interval.hi
    assert set(an.parametric.intervals) >= {"alpha", "beta", "a"}
    d = json.loads(json.dumps(an.to_dict()))
    assert d["nopt"]["isoflop"]["interval"]["n_boot"] == 20
    assert "[" in format_analysis(an)


def test_bootstrap_is_reproducible_and_counts(sweep):
    runs, curves = sweep
    b1 = bootstrap(runs, curves, n_boot=8, seed=5)
    b2 = bootstrap(runs, curves, n_boot=8, seed=5)
    assert np.array_equal(b1.samples["a_isoflop"], b2.samples["a_isoflop"], equal_nan=True)
    iv = b1.intervals["alpha_C"]
    assert iv.n_boot + iv.n_failed == 8 and iv.level == 0.95
    assert json.loads(json.dumps(b1.to_dict()))["n_boot"] == 8


def test_not_ok_estimator_serialises_nan_as_none():
    runs, _ = synthetic_sweep(width_steps=[3], seeds=1)
    d = json.loads(json.dumps(nopt_isoflop(runs).to_dict()))
    assert d["ok"] is False and d["a"] is None and d["reason"]


def test_backtest_bands_come_from_resamples_and_n_opt_is_backtested_too(sweep):
    runs, _ = sweep
    bt = backtest(runs, octaves=1.5, n_boot=20)
    t = bt.table.set_index("model")
    assert set(t["predicts"]) == {"loss", "N_opt"} and bt.n_boot == 20
    h = bt.heldout
    assert (h["flops"] > bt.cutoff_flops).all()
    # a band per prediction, around it; the synthetic law is the parametric form: its error is small
    for k in ("power", "parametric"):
        assert (h[f"lo_{k}"] <= h[f"hi_{k}"]).all()
        assert ((h[f"lo_{k}"] <= h[f"pred_{k}"] * 1.02) & (h[f"pred_{k}"] <= h[f"hi_{k}"] * 1.02)).mean() >= 0.8
    assert t.loc["parametric L(N, D)", "mape"] < 0.05
    # N_opt is scored against the N of the held-out frontier configurations, in log space
    nopt = t[t["predicts"] == "N_opt"]
    assert len(nopt) == 3 and (nopt["rms_log_error"].dropna() >= 0).all()
    json.dumps(bt.to_dict())


def test_compare_detects_a_different_exponent():
    truth = {0.0: dict(alpha=0.4, beta=0.3), 0.2: dict(alpha=0.3, beta=0.4)}
    runs, curves = synthetic_sweep(dropouts=(0.0, 0.2), truth=truth, seed=7)
    a, b = runs[runs.dropout == 0.0], runs[runs.dropout == 0.2]
    c = compare(a, b, curves, curves, n_boot=30, seed=0)
    row = c.table.set_index("name").loc["a_parametric"]
    assert row["first"] < row["second"] and row["p_first_greater"] < 0.05
    assert row["first_hi"] < row["second_lo"]
    json.dumps(c.to_dict())


# ---------------------------------------------------------------- refusing bad input

@pytest.mark.parametrize("x, y, match", [
    ([1, 2], [1, 0.5], "at least 3 points"),
    ([1, 2, np.nan], [1, 0.5, 0.3], "NaN"),
    ([1, 2, 3], [1, 0, 0.3], "positive"),
    ([1, -2, 3], [1, 0.5, 0.3], "positive"),
    ([2, 2, 2], [1, 0.5, 0.3], "distinct values of x"),
    (["a", "b", "c"], [1, 0.5, 0.3], "numeric"),
])
def test_power_law_refuses(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(x, y)


def test_parametric_refuses_degenerate_grids():
    N = np.repeat([1e3, 2e3, 4e3], 3)
    D = np.tile([1e3, 2e3, 4e3], 3)
    L = 1 + 10 / N ** 0.3 + 10 / D ** 0.3
    with pytest.raises(ValueError, match="at least 3 distinct values of N"):
        fit_parametric(np.full(9, 1e3), D, L)
    with pytest.raises(ValueError, match="at least 3 distinct values of D"):
        fit_parametric(N, np.full(9, 1e3), L)
    with pytest.raises(ValueError, match="at least 6 points"):
        fit_parametric(N[:2], D[:2], L[:2])
    with pytest.raises(ValueError, match="L contains NaN"):
        fit_parametric(N, D, np.r_[L[:-1], np.nan])
    with pytest.raises(ValueError, match="D must be positive"):
        fit_parametric(N, -D, L)


def test_estimators_say_why_they_cannot_answer():
    runs, curves = synthetic_sweep(width_steps=[3], seeds=1)       # a single width
    for est in (nopt_envelope(runs, curves), nopt_isoflop(runs), nopt_parametric(runs)):
        assert not est.ok and est.reason and np.isnan(est.a)
    an = analyze(runs, curves, n_boot=5)
    assert "cannot answer" in format_analysis(an)
    runs, _ = synthetic_sweep(width_steps=range(8), fractions=(1.0,), seeds=1)  # one data size
    assert "distinct values of D" in nopt_parametric(runs).reason


def test_invalid_runs_raise_clear_errors(sweep):
    runs, _ = sweep
    with pytest.raises(ValueError, match="missing columns: flops"):
        aggregate(runs.drop(columns="flops"))
    bad = runs.copy()
    bad.loc[bad.index[0], "params"] = np.nan
    with pytest.raises(ValueError, match="'params'"):
        aggregate(bad)
    mixed = pd.concat([runs, runs.assign(dropout=0.2, run_id=runs.run_id + "b")])
    with pytest.raises(ValueError, match="mix 2 sweeps"):
        analyze(mixed, n_boot=0)


@pytest.mark.parametrize("kw, match", [
    (dict(n_col="nope", loss_col="loss", c_col="Training FLOP"), "column 'nope' not in table"),
    (dict(n_col="color", loss_col="loss", c_col="Training FLOP"), "column 'color' has 245 missing or non-numeric"),
    (dict(n_col="Model Size", loss_col="loss"), "exactly one of"),
    (dict(n_col="Model Size", loss_col="loss", c_col="x", d_col="y"), "exactly one of"),
    (dict(n_col="Model Size", loss_col="neg", c_col="Training FLOP"), "column 'neg' has 1 non-positive"),
])
def test_fit_table_refuses_bad_columns(chinchilla, kw, match):
    df = chinchilla.assign(neg=np.r_[-1.0, np.ones(len(chinchilla) - 1)])
    with pytest.raises(ValueError, match=match):
        fit_table(df, **kw)


def test_two_identical_selections_do_not_differ():
    """Compare with A = B: both share their resamples, and a tie is not evidence (P = 1/2, p = 1)."""
    from scaling.fit import comparison_table

    runs, curves = synthetic_sweep(seeds=3)
    an = analyze(runs, curves, n_boot=40, seed=0)
    table = comparison_table(an, an)
    assert (table["p_first_greater"].dropna() == 0.5).all() and (table["p_two_sided"].dropna() == 1.0).all()
