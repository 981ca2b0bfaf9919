"""A selection's URL form read back: link parameters (a copied link, another machine's) into a
Selection, each bad or unknown value named in a note and replaced by the default."""
from __future__ import annotations

from dataclasses import replace

from scaling.core import arch, config, grid
from scaling.core.fmt import md_text
from scaling.datasets import DATASETS
from scaling.services.selection import (
    COMPUTE,
    ESTIMATORS,
    FORMS,
    LR_TUNED,
    PRECISIONS,
    Selection,
)


def parse_params(params: dict, default: Selection, prefix: str = "") -> tuple[Selection, list[str]]:
    """A selection from URL query parameters; a malformed one falls back to its default with a
    note saying which and why (the page shows the notes, as Markdown: what the link said is escaped)."""
    sel, notes = default, []

    def get(key):
        v = params.get(prefix + key)
        if isinstance(v, (list, tuple)):
            v = v[-1] if v else None
        return None if v is None else str(v)

    def take(key, parse):
        nonlocal sel
        raw = get(key)
        if raw is None:
            return
        try:
            sel = replace(sel, **parse(raw))
        except (ValueError, ZeroDivisionError, grid.GridError) as e:
            notes.append(f"ignored ?{prefix}{key}={md_text(repr(raw[:40]))}: {md_text(e)}")

    def ds(v):
        if v not in DATASETS:
            raise ValueError(f"unknown dataset (one of {', '.join(DATASETS)})")
        return {"dataset": v}

    def dropout(v):
        return {"dropout": grid.floats("dropout", v, 0, 1, hi_open=True)[0]}

    def widths(v):
        ws = grid.width_steps("w", v)
        return {"widths": (ws[0], ws[-1])}

    def fracs(v):
        fs = grid.fractions("f", v)
        return {"fractions": (fs[0], fs[-1])}

    def seeds(v):
        return {"seeds": tuple(grid.int_steps("seeds", v, 0, 2**31 - 1))}

    def lr(v):
        return {"lr": LR_TUNED if v == LR_TUNED else grid.floats("lr", v, 1e-6, 1e6)[0]}

    def choice(name, options):
        def parse(v):
            if v not in options:
                raise ValueError(f"must be one of {', '.join(options)}")
            return {name: v}
        return parse

    def noise(v):
        return {"label_noise": grid.floats("noise", v, 0, 1, hi_open=True)[0]}

    def digits(name):
        def parse(v):
            return {name: grid.digits(name, v)}
        return parse

    def pre_fraction(v):
        return {"pretrain_fraction": grid.fractions("pref", v)[0]}

    def positive_int(name, hi):
        def parse(v):
            vals = grid.int_steps(name, v, 1, hi)
            if len(vals) != 1:
                raise ValueError("must be one whole number")
            return {name: vals[0]}
        return parse

    for key, parse in [("ds", ds), ("dropout", dropout), ("w", widths), ("f", fracs), ("seeds", seeds),
                       ("lr", lr), ("fit", choice("form", FORMS)), ("nopt", choice("estimator", ESTIMATORS)),
                       ("c", choice("compute", COMPUTE)),
                       ("rule", choice("lr_rule", config.LR_RULES)), ("ep", positive_int("epochs", 100)),
                       ("bs", positive_int("batch_size", 4096)), ("prec", choice("precision", PRECISIONS)),
                       ("noise", noise), ("arch", choice("arch", arch.ARCHS)), ("digits", digits("classes")),
                       ("pre", digits("pretrain_classes")), ("pref", pre_fraction),
                       ("pree", positive_int("pretrain_epochs", 100)), ("sched", choice("lr_schedule", config.LR_SCHEDULES))]:
        take(key, parse)
    return sel, notes
