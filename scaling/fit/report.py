"""An analysis as the plain text `scaling fit` prints."""
from __future__ import annotations

from scaling.core.fmt import fmt_interval
from scaling.fit.analysis import INTERVAL_METHOD, Analysis
from scaling.fit.intervals import Interval
from scaling.fit.tuning import lr_tuning
from scaling.fit.verdict import verdict


def _fmt_iv(iv: Interval | None, off: str = "") -> str:
    if iv is None or iv.n_boot == 0:
        return ""
    return (f"  {fmt_interval(iv.lo, iv.hi)} ({iv.level:.0%}, {iv.answered()}"
            + ("" if iv.reliable else "; UNRELIABLE: under 80% answered") + (f"; {off}" if off else "") + ")")


def format_analysis(an: Analysis) -> str:
    """Plain-text report for the CLI."""
    excl = ", ".join(f"{k} {v}" for k, v in sorted(an.excluded.items())) or "none"
    lr = lr_tuning(an.aggregate).label() if an.aggregate.lr == "tuned" else f"x{an.aggregate.lr:g}"
    lines = [f"runs used: {an.n_runs} ({len(an.aggregate.points)} configurations, "
             f"seeds averaged); excluded: {excl}; learning rate: {lr}",
             ("compute: C = 6 N D (Kaplan's and Chinchilla's count; this project's is 3 x forward FLOPs x D, "
              "--compute 3fd); " if an.convention == "6nd" else
              "compute: C = 3 x forward FLOPs x D (this project's count; --compute 6nd for C = 6 N D); ")
             + f"here C = {an.compute.c_per:.4g} N D (median), "
             f"fitted C = {an.compute.kappa:.4g} N^{an.compute.gamma:.3f} D; N_opt from L(N, D) is minimised "
             f"along the family's own N and C/D per width at each budget",
             f"frontier: {len(an.frontier)} configurations"]
    if an.seed_noise is not None:
        lines.append(an.seed_noise.describe())
    if an.boot is not None and an.no_interval:
        lines.append(an.no_interval)
    elif an.boot is not None:
        widen = f", widened x{an.boot.inflate:.2f} for the few seeds" if an.boot.inflate > 1 else ""
        lines.append(f"intervals: {an.boot.n_boot} bootstrap resamples of {an.boot.scheme}, {INTERVAL_METHOD}{widen}"
                     + (f"; {an.boot.note}" if an.boot.note else ""))
    f = an.loss_vs_compute
    if f is None:
        why = next((n.split(": ", 1)[1] for n in an.notes if n.startswith("loss_vs_compute:")), "")
        lines.append(f"loss vs compute: cannot fit: {why}")
    else:
        form = "E + A C^-alpha" if f.irreducible else "A C^-alpha"
        e = f", E = {f.E:.4g}" if f.irreducible else ""
        how = f" ({an.law_choice})" if an.law_choice else ""
        lines.append(f"loss vs compute: L = {form}{how}, alpha_C = {f.alpha:.4f}"
                     f"{_fmt_iv(f.alpha_interval, an.off_interval('alpha_C'))}{e}, {f.n_points} frontier points")
    if an.frontier_laws is not None:
        lines.append(an.frontier_laws.describe())
    for name, g, what in [("slice L(N) at the largest D only", an.loss_vs_params, "alpha_N"),
                          ("slice L(D) at the largest N only", an.loss_vs_data, "alpha_D")]:
        if g is not None:
            lines.append(f"{name}: {what} = {g.alpha:.4f}{_fmt_iv(g.alpha_interval, an.off_interval(what))}, "
                         f"{g.n_points} points (biased low by the other term: not the parametric exponent)")
    lines.append("compute-optimal model size N_opt = k C^a:")
    for m, r in an.nopt.items():
        if r.ok:
            lines.append(f"  {m:<10} a = {r.a:.4f}{_fmt_iv(r.interval, an.off_interval('a_' + m))}, "
                         f"{len(r.points)} budgets, {r.n_runs} runs")
        else:
            lines.append(f"  {m:<10} cannot answer: {r.reason}")
    lines += [f"  {line}" for line in an.accounted()[1 if an.law_choice else 0:]]
    v = verdict(an)
    lines.append(f"  verdict: {'believe ' + v.choice if v.choice else 'nothing to believe'}: {v.reason}")
    if v.headline:
        lines.append(f"  answer: {v.headline}")
    if an.parametric is not None:
        q = an.parametric
        lines.append(f"parametric L(N, D) = E + A/N^alpha + B/D^beta: E = {q.E:.4g}, A = {q.A:.4g}, "
                     f"B = {q.B:.4g}, alpha = {q.alpha:.4f}, beta = {q.beta:.4f}; beta/(alpha+beta) = {q.a:.4f}"
                     f"{_fmt_iv(q.intervals.get('a') if q.intervals else None)} (the asymptotic N_opt exponent; "
                     "the parametric a above is the slope over this grid's budgets)")
    if an.kaplan is not None:
        k = an.kaplan
        lines.append(f"Kaplan L(N, D) = [(Nc/N)^(alpha_N/alpha_D) + Dc/D]^alpha_D: "
                     f"Nc = {k.Nc:.4g}, Dc = {k.Dc:.4g}, alpha_N = {k.alpha_N:.4f}, "
                     f"alpha_D = {k.alpha_D:.4f}")
    return "\n".join(lines)
