"""How likely the verdict is to see the parametric form misfit once a batch has landed.

The verdict (fit/verdict.py) turns from the parametric estimate to the form-free pair when the mean
log residual over a whole width or data fraction passes MISFIT and MISFIT_Z standard errors of the
seed noise. More seeds shrink that limit (towards MISFIT), so a batch that buys precision for the
parametric estimate can also be the batch that makes the verdict stop believing it. Per width and per
fraction: the group's residual after the batch is its runs' residuals now, and for its new seeds the
group's bias plus their own noise; the chance that it passes the verdict's limit for the design after
the batch is a normal tail. A group's bias is its observed mean residual shrunk towards 0 by how much
the groups' means spread beyond what the seed noise gives (a normal random effect, its variance by the
method of moments per axis): where the form is right, the means are noise and a batch of seeds is not
taken to reveal a misfit that a flat guess would read into the largest of them. The groups are taken
as independent. The refit the new runs bring is not modelled: its residuals are the fit's
now. Where the verdict sees a misfit now, the probability is 1 at the design now.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
from scipy.special import ndtr  # the normal CDF: norm.cdf's numbers without scipy.stats' import

from scaling.fit.planner.world import cell_key
from scaling.fit.verdict import MISFIT, MISFIT_Z


def _var(n: float, shared: bool, se2: float, su2: float, seeds: float) -> float:
    """The verdict's noise variance of a group mean of n cells (fit/verdict._misfit_limit)."""
    return (se2 / n + (su2 if shared else su2 / n)) / max(seeds, 1.0)


class MisfitOdds:
    """P(the verdict sees the form misfit) for the design now plus a batch, from an analysis `an`."""

    def __init__(self, an):
        self.ok = an.parametric is not None and an.seed_noise is not None and an.seed_noise.measured
        if not self.ok:
            return
        pts = an.aggregate.points
        r = np.log(pts["val_loss"].to_numpy(float)) - np.log(an.parametric.predict(pts["params"], pts["examples"]))
        keys = [cell_key(w, f) for w, f in zip(pts["width_step"], pts["data_fraction"])]
        self.resid = dict(zip(keys, r.tolist()))
        self.seeds = dict(zip(keys, pts["n_seeds"].astype(float).tolist())) if "n_seeds" in pts else dict.fromkeys(keys, 1.0)
        noise = an.seed_noise
        self.su2 = noise.sd_shared ** 2 if math.isfinite(noise.sd_shared) else 0.0
        self.se2 = max(noise.sd ** 2 - self.su2, 0.0)
        mean_seeds = float(np.mean(list(self.seeds.values())))
        self.bias, self.tau2 = {}, {}  # group -> its bias's (posterior mean, variance); axis -> the prior's
        for axis, shared in ((0, False), (1, True)):
            groups = {}
            for k, v in self.resid.items():
                groups.setdefault((axis, k[axis]), []).append(v)
            m = {g: float(np.mean(vs)) for g, vs in groups.items()}
            v = {g: _var(len(vs), shared, self.se2, self.su2, mean_seeds) for g, vs in groups.items()}
            tau2 = max(float(np.mean([x ** 2 for x in m.values()]) - np.mean(list(v.values()))), 0.0)
            self.tau2[axis] = tau2
            for g in groups:
                shrink = tau2 / (tau2 + v[g]) if tau2 + v[g] > 0 else 0.0
                self.bias[g] = (m[g] * shrink, v[g] * shrink)

    def __call__(self, design: set) -> float:
        """P(misfit) once the runs of `design` ((width_step, fraction, seed, lr_mult) keys) have landed."""
        if not self.ok:
            return 0.0
        count = Counter(cell_key(k[0], k[1]) for k in design)
        for k, s in self.seeds.items():  # a cell's runs now count even where the design's keys miss them
            count[k] = max(count[k], s)
        mean_seeds = float(np.mean(list(count.values())))
        groups = {}
        for c, k_new in count.items():
            for axis in (0, 1):
                groups.setdefault((axis, c[axis]), []).append(c)
        keep = 1.0
        for g, cells in groups.items():
            shared = g[0] == 1
            n = len(cells)
            beta, v_beta = self.bias.get(g, (0.0, self.tau2.get(g[0], 0.0)))  # no runs now: the prior
            mean, new_var, carried = 0.0, 0.0, 0.0
            for c in cells:
                k_old, k_all = self.seeds.get(c, 0.0), float(count[c])
                added = max(k_all - k_old, 0.0)
                mean += (k_old * self.resid.get(c, 0.0) + added * beta) / k_all / n
                carried += added / k_all / n
                new_var += added / k_all ** 2 * (self.se2 + (self.su2 * n if shared else self.su2)) / n ** 2
            sd = math.sqrt(carried ** 2 * v_beta + new_var)
            limit = max(MISFIT, MISFIT_Z * math.sqrt(_var(n, shared, self.se2, self.su2, mean_seeds)))
            if sd <= 0:
                p = float(abs(mean) > limit)
            else:
                p = float(ndtr(-((limit - mean) / sd)) + ndtr((-limit - mean) / sd))
            keep *= 1.0 - min(max(p, 0.0), 1.0)
        return 1.0 - keep
