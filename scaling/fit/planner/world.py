"""Plausible outcomes of runs not trained yet: loss surfaces drawn from the parametric fit and its seed
resamples, and the measured seed noise, drawn once per (simulation, run) so that every design the
planner weighs is judged on the same draws (common random numbers).

A configuration's log-loss in simulation k is ln L_k(N, D) + offset + u(seed, fraction) + e(run):
L_k is the k-th surface (the data's own fit first, then refits on seed resamples), the offset keeps
what the form misses (a cached configuration: its observed seed mean against the fit; a new one: the
mean residual of its width plus that of its fraction, 0 for a width or fraction never tried), and u
and e are the shared and own parts of the seed noise (fit.seed_noise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.parametric import ParametricFit, fit_parametric
from scaling.fit.resample import Resampler
from scaling.fit.runs import Prepared

SURFACES = 8  # the fit and 7 refits on seed resamples: enough to move the optimum as the data allow


def cell_key(width_step, fraction) -> tuple:
    return int(width_step), round(float(fraction), 12)


def _code(f: float) -> int:
    return int(round(float(f) * 2 ** 30))


@dataclass(frozen=True, eq=False)
class World:
    """What the planner believes a run not trained yet would give.

    Attributes
    ----------
    fits : tuple of ParametricFit
        The surfaces: the data's own fit first, then refits on seed resamples.
    offset : dict
        (width_step, fraction) -> ln(observed seed mean) - ln(the fit's prediction), cached configurations.
    width_res, frac_res : dict
        width_step (fraction) -> mean residual of the fit over that width (fraction), for new configurations.
    sd, sd_shared : float
        The seed noise of ln L: a run's own part and the part one seed's widths share at a fraction.
    seed : int
        Seeds every draw.
    """
    fits: tuple
    offset: dict
    width_res: dict
    frac_res: dict
    sd: float
    sd_shared: float
    seed: int = 0

    def log_mu(self, k: int, width_step, fraction, N, D) -> np.ndarray:
        """ln of the loss surface k expects at these configurations (arrays of one length)."""
        N, D = np.asarray(N, float), np.asarray(D, float)
        base = np.log(self.fits[k % len(self.fits)].predict(N, D))
        off = np.array([self._offset(w, f) for w, f in zip(width_step, fraction)], float)
        return base + off

    def _offset(self, w, f) -> float:
        key = cell_key(w, f)
        if key in self.offset:
            return self.offset[key]
        return self.width_res.get(key[0], 0.0) + self.frac_res.get(key[1], 0.0)

    def noise(self, sim: int, width_step, fraction, seed, lr_mult) -> np.ndarray:
        """ln of the noise factor of each run in simulation `sim` (the same run, the same draw)."""
        out = np.empty(len(seed))
        for i, (w, f, s, m) in enumerate(zip(width_step, fraction, seed, lr_mult)):
            u = np.random.default_rng([self.seed, sim, 1, int(s), _code(f)]).standard_normal()
            e = np.random.default_rng([self.seed, sim, 2, int(w) + 64, _code(f), int(s), _code(m)]).standard_normal()
            out[i] = self.sd_shared * u + self.sd * e
        return out

    def predict(self, width_step, fraction, N, D, n_seen=None, chance: float = math.inf) -> pd.DataFrame:
        """Each run's loss expected (the data's fit, with the offsets) and its 95% interval: the seed
        noise of one run, the spread of the surfaces, and for a cached configuration the error of its
        observed mean (n_seen seeds behind it). `chance`: the loss of a uniform guess (ln of the number of
        classes). Where the form extrapolates above it, the run is expected at chance (a network that
        learns nothing; the real grid's smallest runs land there), and its interval runs from as far
        below chance as the form's reaches below the form to the form's own upper end: which of the
        two holds so far outside the grid, no run has shown."""
        mu = np.array([self.log_mu(k, width_step, fraction, N, D) for k in range(len(self.fits))])
        spread = mu.std(axis=0) if len(self.fits) > 1 else np.zeros(mu.shape[1])
        var = self.sd ** 2 + self.sd_shared ** 2 + spread ** 2
        if n_seen is not None:
            seen = np.asarray(n_seen, float)
            var = var + np.where(seen > 0, (self.sd ** 2 + self.sd_shared ** 2) / np.maximum(seen, 1), 0.0)
        half = 1.959964 * np.sqrt(var)
        centre = np.minimum(mu[0], math.log(chance))
        return pd.DataFrame({"loss": np.exp(centre), "lo": np.exp(centre - half), "hi": np.exp(mu[0] + half)})


def _mean_residual(keys: np.ndarray, r: np.ndarray) -> dict:
    s = pd.Series(r).groupby(keys).mean()
    return {k: float(v) for k, v in s.items()}


def world(an, runs: pd.DataFrame, *, lr="tuned", n_surfaces: int = SURFACES, seed: int = 0) -> World:
    """The world of analysis `an` (its runs, `runs`): ValueError without a parametric fit or a
    measured seed noise (the planner simulates from both)."""
    fit, noise = an.parametric, an.seed_noise
    if fit is None:
        raise ValueError("the planner simulates runs from the parametric fit L(N, D), which fails on this selection")
    if noise is None or not noise.measured:
        raise ValueError("the planner simulates runs at the measured seed noise, and no configuration here has two "
                         "seeds: train a second seed of a few configurations first")
    pts = an.aggregate.points
    N, D = pts["params"].to_numpy(float), pts["examples"].to_numpy(float)
    r = np.log(pts["val_loss"].to_numpy(float)) - np.log(fit.predict(N, D))
    keys = [cell_key(w, f) for w, f in zip(pts["width_step"], pts["data_fraction"])]
    offset = dict(zip(keys, r.tolist()))
    width_res = _mean_residual(np.array([k[0] for k in keys]), r)
    rest = r - np.array([width_res[k[0]] for k in keys])
    frac_res = _mean_residual(np.array([k[1] for k in keys]), rest)
    shared = noise.sd_shared if math.isfinite(noise.sd_shared) else 0.0
    own = math.sqrt(max(noise.sd ** 2 - shared ** 2, 0.0))
    fits = (fit, *_resampled_fits(runs, fit, lr, n_surfaces - 1, seed))
    return World(fits, offset, width_res, frac_res, own, shared, seed)


def _resampled_fits(runs: pd.DataFrame, fit: ParametricFit, lr, n: int, seed: int) -> list:
    """The parametric fit on n seed resamples of the runs (warm-started from the data's fit)."""
    if n <= 0:
        return []
    p = Prepared(runs, None, lr)
    draw = Resampler(p)
    rng = np.random.default_rng([seed, 7])
    out = []
    for _ in range(n):
        mean, use, _ = p.select(draw.weights(rng))
        try:
            out.append(fit_parametric(p.N[use], p.D[use], mean[use], init=fit, n_starts=0))
        except ValueError:
            continue
    return out
