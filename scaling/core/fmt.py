"""Numbers and fit results as the words a page or the CLI shows: fractions, FLOPs, times, values
with their intervals, percentages, equations, reasons."""
from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np


def frac_label(f: float) -> str:
    """1/256 for powers of two (how the protocol names them), else the number (inf and NaN too: error
    messages name what was typed)."""
    if not math.isfinite(f):
        return f"{f:g}"
    fr = Fraction(f).limit_denominator(1 << 20)
    return f"1/{fr.denominator}" if fr.numerator == 1 and fr.denominator > 1 else f"{f:g}"


def fmt_flops(x: float) -> str:
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} FLOP"


def fmt_s(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 120:
        return f"{s:.0f} s"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    m, r = divmod(round(s), 60)  # whole seconds first: 161 s is 2 min 41 s, never "3 min 41 s" (f"{2.68:.0f}")
    return f"{m} min {r:02d} s"


def fmt_num(x: float, digits: int = 3) -> str:
    """3 significant digits: 0.958, 42.1, 9020, 1.17e4, 3.2e-5 (never 9.02e+03)."""
    if not math.isfinite(x):
        return "?"
    if x != 0 and not 1e-3 <= abs(x) < 1e4:
        m, e = f"{x:.{digits - 1}e}".split("e")
        return f"{m}e{int(e)}"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:#.{digits}g}".rstrip(".")  # 1.00, not 1


def fmt_interval(lo: float, hi: float, spec: str = ".3f") -> str:
    """'[0.601, 0.690]': an interval's ends in one format spec."""
    return f"[{lo:{spec}}, {hi:{spec}}]"


def _has_ends(iv) -> bool:
    return iv is not None and math.isfinite(iv.lo)


def fmt_estimate(v: float, iv=None, digits: int = 2) -> str:
    """'0.66 [0.60, 0.69]': a value and its interval (anything with lo and hi: fit.Interval, a table
    row) to `digits` decimals, the value alone where there is none; a digit more where the interval is
    too narrow for `digits` to tell its ends apart."""
    if not _has_ends(iv):
        return f"{v:.{digits}f}"
    if iv.hi - iv.lo < 2 * 10.0 ** -digits:
        digits += 1
    return f"{v:.{digits}f} {fmt_interval(iv.lo, iv.hi, f'.{digits}f')}"


def fmt_count(x: float) -> str:
    """Counts and ratios as people read them: 3.20, 42, 1,300, 2.1e+06."""
    if not math.isfinite(x):
        return "?"
    a = abs(x)
    return f"{x:.2f}" if a < 10 else f"{x:,.0f}" if a < 1e6 else f"{x:.2g}"


def fmt_count_estimate(v: float, iv=None) -> str:
    """'1,300 [1,100, 1,600]': fmt_count of a value and of its interval's ends (as fmt_estimate)."""
    if not _has_ends(iv):
        return fmt_count(v)
    return f"{fmt_count(v)} [{fmt_count(iv.lo)}, {fmt_count(iv.hi)}]"


def fmt_pct(x: float) -> str:
    """A share in percent: 20%, 12.5% (a decimal only where the whole percent is not exact)."""
    return f"{x:.0%}" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x:.1%}"


def floor_negligible(E: float, lowest_loss: float) -> bool:
    """An irreducible loss E fitted to (almost) nothing, at its lower bound: the data show no
    floor in their range, and E's value (1e-13, say) means nothing."""
    return not E > 1e-3 * lowest_loss


def equation(law) -> str:
    a = f"{fmt_num(law.A)} · C^−{law.alpha:.3f}"
    if law.irreducible:
        eq = f"L = {fmt_num(law.E)} + {a}"
        if floor_negligible(law.E, float(law.predict(np.array([law.x_range[1]]))[0])):
            eq = f"L = E + {a} with E ≈ 0 (no floor visible in this range)"
    else:
        eq = f"L = {a}"
    iv = law.alpha_interval
    if iv is not None and math.isfinite(iv.lo):
        eq += f"  —  α_C ∈ {fmt_interval(iv.lo, iv.hi)} (95%)"
    return eq


_SKIP_WHY = {
    "fewer than 3 widths reach it": "fewer than 3 widths reach that compute",
    "minimum at the smallest width": "the smallest width trained has the lowest loss (the optimum is smaller "
                                     "than the widths trained; larger data fractions reach budgets where it "
                                     "moves up into range)",
    "minimum at the largest width": "the largest width trained has the lowest loss (the optimum lies beyond "
                                    "the widths trained: larger widths would show it)",
    "no minimum inside the widths": "the loss has no clear minimum across the widths",
    "N_opt outside the widths tested": "N_opt falls outside the widths trained",
}


def explain_nopt(nf) -> str:
    """Why an N_opt estimator cannot answer, in words: what it needed and what the budgets showed."""
    skipped = getattr(nf, "skipped", None)
    if skipped is None or not len(skipped):
        return nf.reason
    counts = skipped["reason"].value_counts()
    parts = [f"at {n} of them {_SKIP_WHY.get(r, r)}" for r, n in counts.items()]
    n_ok = len(nf.points) if nf.points is not None else 0
    return (f"it needs at least 3 compute budgets where several widths compete and one in the middle wins; "
            f"of the {len(skipped) + n_ok} budgets tried, {n_ok} qualif{'y' if n_ok != 1 else 'ies'}: "
            + "; ".join(parts))


def compute_note(an) -> str:
    """How C relates to N and D in this selection (the CNN family is not C = 6 N D)."""
    comp = an.compute
    return f"Compute here: C ≈ {comp.c_per:.3g}·N·D (median), fitted C = {comp.kappa:.3g}·N^{comp.gamma:.3f}·D."


# Text from outside (a link's parameters, an imported file's fields, a host's names, an error that
# quotes them) goes into elements that render Markdown: st.warning, st.caption, widget labels...
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character: CommonMark escapes them all
# Streamlit and GFM also act on the parsed text, after the escapes are resolved: a word joiner
# (U+2060, invisible) breaks each such pattern: literal autolinks (http://, www., a@b) and :streamlit:
_ON_PARSED = [(re.compile(r"(?<=:)(?=//)"), "\u2060"), (re.compile(r"(?i)(?<=www)(?=\.)"), "\u2060"),
                  (re.compile(r"(?<=@)"), "\u2060"), (re.compile(r"(?<=:)(?=streamlit:)"), "\u2060")]


def md_text(s) -> str:
    """`s` as literal text inside Markdown (st.caption, st.warning, labels): every Markdown, HTML,
    math ($) and directive (:material/...:, :red[...]) character escaped, links and images inert,
    on one line."""
    s = re.sub(r"[\r\n]+", " ", str(s))
    for pattern, joiner in _ON_PARSED:
        s = pattern.sub(joiner, s)
    return _PUNCT.sub(r"\\\1", s)


def sentence(text: str) -> str:
    """A clause as a sentence: its first letter upper case (the rest as written), a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".") if text else ""
