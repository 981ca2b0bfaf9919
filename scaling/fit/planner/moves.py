"""The batches of runs the planner weighs, from the runs a design holds: widths and data fractions
beyond the grid (bracketing), another seed along one data fraction or one width (where the residuals
are largest these test the form), and another seed on the frontier.

A run is a key (width_step, data_fraction, seed, lr_mult); a design is a set of keys.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from scaling.core import arch
from scaling.fit.planner.world import cell_key

MIN_FRACTION = 1 / 1024  # 58 examples: below it a "run" is a handful of steps (services.bracket's floor)
STEPS = 2  # widths or fractions tried beyond each side of the grid
FORM_KINDS = ("bracket", "residual")  # the moves that test the form rather than narrow within it


@dataclass(frozen=True)
class Move:
    """One batch the planner weighs.

    Attributes
    ----------
    kind : str
        'bracket' (a width or fraction beyond the grid), 'residual' (another seed where the form's
        residuals are largest), 'seeds' (another seed along a fraction or a width) or 'frontier'.
    why : str
        What it is for, in words.
    runs : tuple
        Its runs as (width_step, data_fraction, seed, lr_mult).
    """
    kind: str
    why: str
    runs: tuple


def _fmt_f(f: float) -> str:
    return f"1/{round(1 / f)}" if f < 1 else "1"


def moves(design: set, lr_mult: float, *, worst_width=None, worst_fraction=None, frontier=(), repeat: int = 1
          ) -> list[Move]:
    """Every batch worth weighing beside `design` (only runs it does not hold); the batches of more
    seeds add `repeat` seeds at once (a large budget in few steps)."""
    cells = defaultdict(set)
    for w, f, s, _ in design:
        cells[cell_key(w, f)].add(s)
    widths = sorted({k[0] for k in cells})
    fracs = sorted({k[1] for k in cells})
    base = _base_seeds(cells)
    out = []

    def add(kind, why, keys):
        runs = tuple(k for k in keys if k not in design)
        if runs:
            out.append(Move(kind, why, runs))

    valid = arch.width_steps()
    below = [k for k in valid if k < widths[0]][-STEPS:]
    above = [k for k in valid if k > widths[-1]][:STEPS]
    half = max(len(fracs) // 2, 1)
    for k in below + above:
        side = "below" if k < widths[0] else "above"
        col = [(k, f, s, lr_mult) for f in fracs for s in base]
        add("bracket", f"width {arch.width(k)}, {side} the grid: brackets the optimum", col)
        add("bracket", f"width {arch.width(k)} at the smaller fractions, {side} the grid",
            [r for r in col if r[1] in fracs[:half]])
        add("bracket", f"width {arch.width(k)} at the larger fractions, {side} the grid",
            [r for r in col if r[1] in fracs[half:]])
    lo = [fracs[0] / 2 ** i for i in range(1, STEPS + 1) if fracs[0] / 2 ** i >= MIN_FRACTION]
    hi = [fracs[-1] * 2 ** i for i in range(1, STEPS + 1) if fracs[-1] * 2 ** i <= 1]
    for f in lo + hi:
        side = "below" if f < fracs[0] else "above"
        add("bracket", f"data fraction {_fmt_f(f)}, {side} the grid", [(w, f, s, lr_mult) for w in widths for s in base])

    def more(w, f):
        top = max(cells[cell_key(w, f)])
        return [(w, f, top + i, lr_mult) for i in range(1, repeat + 1)]

    seeds = "another seed" if repeat == 1 else f"{repeat} more seeds"

    for f in fracs:
        kind = "residual" if worst_fraction is not None and f == cell_key(0, worst_fraction)[1] else "seeds"
        why = (f"{seeds} at fraction " + _fmt_f(f)
               + (", where the form's residuals are largest" if kind == "residual" else ""))
        add(kind, why, [r for w in widths if cells.get(cell_key(w, f)) for r in more(w, f)])
    for w in widths:
        kind = "residual" if worst_width is not None and int(worst_width) == w else "seeds"
        why = (f"{seeds} at width {arch.width(w)}"
               + (", where the form's residuals are largest" if kind == "residual" else ""))
        add(kind, why, [r for f in fracs if cells.get(cell_key(w, f)) for r in more(w, f)])
    add("seeds", f"{seeds} at every configuration of the grid", [r for w, f in cells for r in more(w, f)])
    front = [(int(w), float(f)) for w, f in frontier if cells.get(cell_key(w, f))]
    if front:
        add("frontier", f"{seeds} on the compute-efficient frontier", [r for w, f in front for r in more(w, f)])
    return out


def _base_seeds(cells: dict) -> list:
    """The seeds a new configuration gets: those most configurations have."""
    count = defaultdict(int)
    for v in cells.values():
        for s in v:
            count[s] += 1
    top = max(count.values())
    return sorted(s for s, c in count.items() if c >= top / 2)
