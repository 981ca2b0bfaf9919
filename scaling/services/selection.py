"""A selection of cached runs: what a view fits, its URL form, and clamping it to what is cached."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from scaling.core import arch, config
from scaling.core.fmt import frac_label, md_text
from scaling.fit import ESTIMATORS as FIT_ESTIMATORS

LR_TUNED = "tuned"
FORMS = {"backtest": "the backtest's choice (pure or with E; Huber or least squares)",
         "power": "pure power law  L = A·C^-α", "irreducible": "with irreducible loss  L = E + A·C^-α"}
VERDICT = "verdict"  # the estimator the verdict supports (fit.verdict), chosen per selection
ESTIMATORS = {VERDICT: "the verdict's choice", **FIT_ESTIMATORS}
COMPUTE = {"3fd": "3 × forward FLOPs × D (this project's)", "6nd": "6 N D (Kaplan's, Chinchilla's)"}
MIN_POINTS = 3  # a power law through fewer configurations says nothing


class SelectionError(ValueError):
    """The selection leaves nothing to fit; the message says what to change."""


@dataclass(frozen=True)
class Selection:
    """Which cached runs a view uses and how it fits them. Hashable: it keys the fit caches.

    Attributes
    ----------
    dataset : str
        The data set of the runs.
    dropout : float
        Their dropout rate.
    lr_rule, epochs, batch_size, precision
        The rest of the run family (never mixed in one fit): the learning-rate rule, epochs, batch
        size, and fp32 or bf16 autocast (CUDA).
    widths : tuple of int
        Width steps, lowest and highest, inclusive.
    fractions : tuple of float
        Data fractions, lowest and highest, inclusive (the default spans every fraction with an example).
    seeds : tuple of int
        The seeds averaged; () for every cached seed.
    lr : str or float
        A learning-rate multiplier, or LR_TUNED: the best cached one per configuration.
    form : str
        The loss-vs-compute law: "backtest" (the form and fitting loss a backtest favours,
        fit.frontier_law), "power" or "irreducible" (a key of FORMS).
    estimator : str
        The N_opt estimator shown (a key of ESTIMATORS); by default the verdict's choice, the estimate
        it supports, never simply the one that answers.
    compute : str
        How training compute is counted (a key of COMPUTE): "3fd", this project's 3 x forward FLOPs
        x D, or "6nd", Kaplan's and Chinchilla's 6 N D.
    label_noise, arch, classes, pretrain_classes, pretrain_fraction, pretrain_epochs, lr_schedule
        The study axes (config.STUDY_DEFAULTS), last: a field named `arch` would hide the module above them.
    """
    dataset: str = "mnist"
    dropout: float = 0.0
    lr_rule: str = "fan_in"
    epochs: int = 1
    batch_size: int = 64
    precision: str = "fp32"
    widths: tuple[int, int] = (arch.MIN_WIDTH_STEP, arch.MAX_WIDTH_STEP)
    fractions: tuple[float, float] = (2.0**-15, 1.0)  # 1/32768 ≥ 1/60000: every fraction with an example
    seeds: tuple[int, ...] = ()
    lr: str | float = LR_TUNED
    form: str = "backtest"
    estimator: str = VERDICT
    compute: str = "3fd"
    label_noise: float = 0.0
    arch: str = "cnn"
    classes: str = ""
    pretrain_classes: str = ""
    pretrain_fraction: float = 1.0
    pretrain_epochs: int = 1
    lr_schedule: str = "constant"

    @property
    def irreducible(self) -> bool | None:
        """True or False where a form is chosen; None for the backtest's choice (fit.analyze)."""
        return None if self.form == "backtest" else self.form == "irreducible"

    def to_params(self, prefix: str = "") -> dict[str, str]:
        """URL query parameters, in the grid syntax of the CLI (a:b excludes b for widths)."""
        p = {
            "ds": self.dataset,
            "dropout": f"{self.dropout:g}",
            "w": f"{self.widths[0]}:{self.widths[1] + 1}",
            "f": f"{frac_label(self.fractions[0])}:{frac_label(self.fractions[1])}",
            "lr": self.lr if self.lr == LR_TUNED else f"{self.lr:g}",
            "fit": self.form,
            "nopt": self.estimator,
        }
        if self.compute != "3fd":  # only where not the default: old links stay valid
            p["c"] = self.compute
        if self.seeds:
            p["seeds"] = ",".join(map(str, self.seeds))
        for key, name in FAMILY_PARAMS.items():  # only where not the default: old links stay valid
            if getattr(self, name) != getattr(DEFAULT, name):
                p[key] = str(getattr(self, name))
        return {prefix + k: v for k, v in p.items()}

    @property
    def family(self) -> dict:
        """The fields that split runs into families, with their values."""
        return {k: getattr(self, k) for k in FAMILY}


# the run family (core.config) less the protocol, which current() settles
FAMILY = tuple(k for k in (*config.FAMILY_FIELDS, *config.RECORDED_FAMILY_FIELDS) if k != "protocol")
FAMILY_PARAMS = {"rule": "lr_rule", "ep": "epochs", "bs": "batch_size", "prec": "precision", "noise": "label_noise",
                 "arch": "arch", "digits": "classes", "pre": "pretrain_classes", "pref": "pretrain_fraction",
                 "pree": "pretrain_epochs", "sched": "lr_schedule"}
PRECISIONS = ("fp32", "bf16")
STUDY_AXES = tuple(config.STUDY_DEFAULTS)
DEFAULT = Selection()
PARAM_KEYS = ("ds", "dropout", "w", "f", "seeds", "lr", "fit", "nopt", "c", *FAMILY_PARAMS)


@dataclass(frozen=True)
class Options:
    """The values the cache holds (runs of the current protocol), for the widgets' choices.

    Attributes
    ----------
    datasets, dropouts, width_steps, fractions, seeds, lr_mults : tuple
        The cached values of each axis a selection ranges over, sorted.
    lr_rules, epochs, batch_sizes, precisions : tuple
        The cached values of the rest of the run family.
    label_noises, archs, classes, pretrain_classes, pretrain_fractions, pretrain_epochs, lr_schedules : tuple
        The cached values of the study axes.
    """
    datasets: tuple[str, ...]
    dropouts: tuple[float, ...]
    width_steps: tuple[int, ...]
    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    lr_mults: tuple[float, ...]
    lr_rules: tuple[str, ...] = ()
    epochs: tuple[int, ...] = ()
    batch_sizes: tuple[int, ...] = ()
    precisions: tuple[str, ...] = ()
    label_noises: tuple[float, ...] = ()
    archs: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    pretrain_classes: tuple[str, ...] = ()
    pretrain_fractions: tuple[float, ...] = ()
    pretrain_epochs: tuple[int, ...] = ()
    lr_schedules: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.datasets


# Selection field -> the Options field of its cached values, for the family fields chosen from a list
_FAMILY_OPTIONS = {"lr_rule": "lr_rules", "epochs": "epochs", "batch_size": "batch_sizes", "precision": "precisions",
                   "label_noise": "label_noises", "arch": "archs", "classes": "classes",
                   "pretrain_classes": "pretrain_classes", "pretrain_fraction": "pretrain_fractions",
                   "pretrain_epochs": "pretrain_epochs", "lr_schedule": "lr_schedules"}


def current(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the current protocol: only they reach fits and charts (older ones are stale)."""
    if runs.empty or "protocol" not in runs.columns:
        return runs
    return runs[runs["protocol"] == config.PROTOCOL]


def n_stale(runs: pd.DataFrame) -> int:
    """Runs of an older protocol: kept and listed, never averaged with current ones."""
    return 0 if runs.empty or "protocol" not in runs.columns else int((runs["protocol"] != config.PROTOCOL).sum())


def options(runs: pd.DataFrame, dataset: str | None = None) -> Options:
    ok = current(runs)
    ok = ok[ok["status"] == "ok"] if len(ok) else ok
    datasets = tuple(sorted(ok["dataset"].unique())) if len(ok) else ()
    if dataset is not None and dataset in datasets:
        ok = ok[ok["dataset"] == dataset]

    def vals(col, cast):
        if not len(ok) or col not in ok:
            return ()
        return tuple(sorted({cast(v) for v in pd.unique(ok[col].to_numpy()) if v is not None and v == v}))

    return Options(datasets, vals("dropout", float), vals("width_step", int), vals("data_fraction", float),
                   vals("seed", int), vals("lr_mult", float), vals("lr_rule", str), vals("epochs", int),
                   vals("batch_size", int), vals("precision", str), vals("label_noise", float), vals("arch", str),
                   vals("classes", str), vals("pretrain_classes", str), vals("pretrain_fraction", float),
                   vals("pretrain_epochs", int), vals("lr_schedule", str))


def fit_to_options(sel: Selection, opts: Options) -> tuple[Selection, list[str]]:
    """Clamp a selection to what is cached (a link made on another machine, a deleted sweep). The
    notes are Markdown: the values named (from a link, or from imported runs) are escaped."""
    notes = []
    if opts.empty:
        return sel, notes
    if sel.dataset not in opts.datasets:
        notes.append(f"no cached {md_text(sel.dataset)} runs: showing {md_text(opts.datasets[0])}")
        sel = replace(sel, dataset=opts.datasets[0])
    if not any(math.isclose(sel.dropout, d) for d in opts.dropouts):
        notes.append(f"no cached runs with dropout {sel.dropout:g}: showing dropout {opts.dropouts[0]:g}")
        sel = replace(sel, dropout=opts.dropouts[0])
    for name, field in _FAMILY_OPTIONS.items():
        have = getattr(opts, field)
        if have and getattr(sel, name) not in have:
            pick = getattr(DEFAULT, name) if getattr(DEFAULT, name) in have else have[0]
            notes.append(f"no cached runs with {name.replace('_', ' ')} {md_text(getattr(sel, name))}: showing "
                         f"{name.replace('_', ' ')} {md_text(pick)}")
            sel = replace(sel, **{name: pick})
    ws, fs = opts.width_steps, opts.fractions
    # snapped inwards to cached steps: a step that is not an option reads as the first one in a slider
    lo = min((w for w in ws if w >= sel.widths[0]), default=ws[-1])
    hi = max((w for w in ws if w <= sel.widths[1]), default=ws[0])
    if hi < lo:
        lo, hi = ws[0], ws[-1]
    flo = min((f for f in fs if f >= sel.fractions[0] * (1 - 1e-9)), default=fs[-1])
    fhi = max((f for f in fs if f <= sel.fractions[1] * (1 + 1e-9)), default=fs[0])
    if fhi < flo:
        flo, fhi = fs[0], fs[-1]
    notes += _range_notes(sel, opts, (lo, hi), (flo, fhi))
    seeds = tuple(s for s in sel.seeds if s in opts.seeds)
    if sel.seeds and not seeds:
        notes.append("none of the selected seeds is cached: using every seed")
    lr = sel.lr
    if lr != LR_TUNED and not any(math.isclose(lr, m) for m in opts.lr_mults):
        notes.append(f"no cached runs with lr multiplier {lr:g}: using the best cached one per configuration")
        lr = LR_TUNED
    return replace(sel, widths=(lo, hi), fractions=(flo, fhi), seeds=seeds, lr=lr), notes


def _range_notes(sel: Selection, opts: Options, widths, fracs) -> list[str]:
    """The width steps and fractions asked for that are not cached, named with what is shown instead (a
    fraction off the grid's powers of two, ?f=1/3, is said to be one)."""
    notes = []  # the default ranges span every grid and are clamped without a word
    off = [w for w in dict.fromkeys(sel.widths) if w not in opts.width_steps]
    if off and sel.widths != DEFAULT.widths:
        notes.append(f"no cached runs at width step {', '.join(map(str, off))}: showing width steps "
                     f"{widths[0]}–{widths[1]}")
    off = [f for f in dict.fromkeys(sel.fractions) if not any(math.isclose(f, c, rel_tol=1e-9) for c in opts.fractions)]
    if off and sel.fractions != DEFAULT.fractions:
        odd = [f for f in off if not math.log2(f).is_integer()]
        why = (f" ({', '.join(map(frac_label, odd))} {'is' if len(odd) == 1 else 'are'} not a power of two: the "
               "grids train 1, 1/2, 1/4, ...)") if odd else ""
        notes.append(f"no cached runs at fraction {', '.join(map(frac_label, off))}{why}: showing fractions "
                     f"{frac_label(fracs[0])}–{frac_label(fracs[1])}")
    return notes


def follow_growth(sel: Selection, old: Options, new: Options) -> Selection:
    """When the cache gains widths or fractions, a range that spanned everything cached keeps
    spanning everything (runs landing from a sweep join the charts); a narrowed range stays."""
    if old.width_steps and sel.widths == (old.width_steps[0], old.width_steps[-1]) and new.width_steps:
        sel = replace(sel, widths=(new.width_steps[0], new.width_steps[-1]))
    if old.fractions and new.fractions and math.isclose(sel.fractions[0], old.fractions[0]) \
            and math.isclose(sel.fractions[1], old.fractions[-1]):
        sel = replace(sel, fractions=(new.fractions[0], new.fractions[-1]))
    return sel


def data_version(runs: pd.DataFrame) -> tuple:
    """Cheap fingerprint of the cache: changes when runs land, are deleted, excluded or included."""
    return _fingerprint(runs, np.ones(len(runs), bool))


def selection_version(runs: pd.DataFrame, sel: Selection) -> tuple:
    """Fingerprint of what a fit of `sel` reads (its runs), as data_version is of the cache: runs
    landing in another family leave it, and the fits cached on it, as they were. From the selection's
    mask, no copy: a page asks it of every neighbour."""
    return _fingerprint(runs, _mask(runs, sel))


def _fingerprint(runs: pd.DataFrame, m: np.ndarray) -> tuple:
    """Which runs (their count and newest), their status, exclusion and loss, among those `m` picks."""
    if not m.any():
        return (0, None)
    out = (int(m.sum()), str(runs["created_at"].to_numpy()[m].max()),
           float(np.nansum(runs["val_loss"].to_numpy(float)[m])), int((runs["status"].to_numpy()[m] == "ok").sum()))
    if "excluded" in runs.columns:
        out += (hash(tuple(sorted(runs["run_id"].to_numpy()[m & runs["excluded"].notna().to_numpy()]))),)
    return out


def select(runs: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """The runs of a selection: one family of the current protocol (every status: the fit counts
    the excluded ones)."""
    if runs.empty:
        return runs.reset_index(drop=True)
    return runs[_mask(runs, sel)].reset_index(drop=True)


def _mask(runs: pd.DataFrame, sel: Selection) -> np.ndarray:
    if runs.empty:
        return np.zeros(0, bool)
    # one mask of numpy arrays, one copy: pandas' comparisons of string columns cost a first draw milliseconds
    m = runs["protocol"].to_numpy() == config.PROTOCOL if "protocol" in runs.columns else np.ones(len(runs), bool)
    m &= (runs["dataset"].to_numpy() == sel.dataset) & np.isclose(runs["dropout"].to_numpy(float), sel.dropout)
    for name in _FAMILY_OPTIONS:
        if name in runs.columns:
            value = getattr(sel, name)
            m &= (np.isclose(runs[name].to_numpy(float), value) if isinstance(value, float)
                  else runs[name].to_numpy() == value)
    w = runs["width_step"].to_numpy()
    m &= (w >= sel.widths[0]) & (w <= sel.widths[1])
    f = runs["data_fraction"].to_numpy(float)
    m &= (f >= sel.fractions[0] * (1 - 1e-9)) & (f <= sel.fractions[1] * (1 + 1e-9))
    if sel.seeds:
        m &= runs["seed"].isin(sel.seeds).to_numpy()
    return m


def describe_family(family: dict) -> str:
    """A run family in one line: mnist · dropout 0 · lr fan_in · 1 epoch · batch 64 · fp32."""
    ep = family["epochs"]
    study = [study_words(k, family[k]) for k in config.STUDY_DEFAULTS
             if k in family and family[k] != config.STUDY_DEFAULTS[k]]
    return " · ".join([f"{family['dataset']} · dropout {family['dropout']:g} · lr {family['lr_rule']} · "
                       f"{ep} epoch{'s' * (ep != 1)} · batch {family['batch_size']} · {family['precision']}", *study])


def study_words(name: str, v) -> str:
    """A study axis's value in words: "20% label noise", "MLP", "digits 56789", "pre-trained on 01234", "cosine lr"."""
    return {"label_noise": lambda: f"{v:.0%} label noise", "arch": lambda: v.upper(),
            "classes": lambda: f"digits {v}" if v else "all digits",
            "pretrain_classes": lambda: f"pre-trained on {v}" if v else "from scratch",
            "pretrain_fraction": lambda: f"pre-training on {frac_label(v)}",
            "pretrain_epochs": lambda: f"{v} pre-training epoch{'s' * (v != 1)}",
            "lr_schedule": lambda: f"{v} lr"}[name]()


def _field_words(sel: Selection, name: str) -> str:
    v = getattr(sel, name)
    if name == "widths":
        return f"width steps {v[0]}–{v[1]}"
    if name == "fractions":
        return f"fractions {frac_label(v[0])}–{frac_label(v[1])}"
    if name == "seeds":
        return "every seed" if not v else "seeds " + ",".join(map(str, v))
    if name == "lr":
        return "lr tuned per size" if v == LR_TUNED else f"lr ×{v:g}"
    if name == "form":
        return _form_words(sel)
    if name == "estimator":
        return f"N_opt by {ESTIMATORS[v]}"
    if name == "epochs":
        return f"{v} epoch{'s' * (v != 1)}"
    if name in config.STUDY_DEFAULTS:
        return study_words(name, v)
    return f"{name.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{name.replace('_', ' ')} {v}"


CONTRAST_ORDER = ("dataset", "dropout", *config.STUDY_DEFAULTS, "lr_rule", "epochs", "batch_size", "precision", "lr",
                  "widths", "fractions", "seeds", "form", "estimator")


def contrast_labels(a: Selection, *others: Selection, most: int = 2) -> tuple[str, ...]:
    """Labels for two or more selections that name what differs among them (up to `most` fields, in
    CONTRAST_ORDER): a comparison along any axis reads as that axis, not as dropout."""
    sels = (a, *others)
    differ = [k for k in CONTRAST_ORDER if len({getattr(s, k) for s in sels}) > 1][:most] or ["dropout"]
    return tuple(" · ".join(_field_words(sel, k) for k in differ) for sel in sels)


def describe(sel: Selection) -> str:
    """One line for a selection (labels, captions)."""
    seeds = "every seed" if not sel.seeds else "seeds " + ",".join(map(str, sel.seeds))
    lr = "lr tuned per size" if sel.lr == LR_TUNED else f"lr ×{sel.lr:g}"
    family = [f"{k.replace('_', ' ')} {getattr(sel, k)}" for k in ("lr_rule", "epochs", "batch_size")
              if getattr(sel, k) != getattr(DEFAULT, k)]
    family += [study_words(k, getattr(sel, k)) for k in config.STUDY_DEFAULTS if getattr(sel, k) != getattr(DEFAULT, k)]
    return (f"{sel.dataset} · dropout {sel.dropout:g} · {' · '.join([*family, sel.precision])} · width steps {sel.widths[0]}–{sel.widths[1]} · "
            f"fractions {frac_label(sel.fractions[0])}–{frac_label(sel.fractions[1])} · {seeds} · {lr} · "
            f"{_form_words(sel)} · N_opt by {ESTIMATORS[sel.estimator]}")


def _form_words(sel: Selection) -> str:
    return {None: "L(C) by the backtest", True: "E + A·C^-α", False: "A·C^-α"}[sel.irreducible]
