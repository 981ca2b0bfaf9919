"""The studies beyond the exercise, as the Studies page and `scaling fit/sweep --study` see them:
what each asks and where the question comes from, the grid that answers it on this device, and the
answer (scaling.fit.studies computes it).

Presets are sized by the time model with no history (scaling.fit.time_model's defaults): each is a
few minutes on a 2-core CPU. On a GPU they are larger: more widths, seeds or data fractions, for
tighter intervals.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from scaling.core.config import LR_SCHEDULES, RunConfig
from scaling.core.fmt import sentence
from scaling.fit import studies as fit_studies
from scaling.fit.studies.schedule import TUNE_MULTS

FINE_TUNE = "56789"   # the transfer study fine-tunes on digits 5-9 ...
PRE_TRAIN = "01234"   # ... after pre-training on 0-4 (Hernandez et al. pre-train on text, fine-tune on code)
BOTTLENECK_EPOCHS = 8  # enough passes over a small set for the larger widths to overfit it


@dataclass(frozen=True)
class Study:
    """A study beyond the exercise, as its card presents it.

    Attributes
    ----------
    key : str
        Its name in STUDIES, the CLI's --study and scaling.fit.studies.
    title : str
        The card's heading.
    question : str
        What it asks, in a sentence or two.
    paper : str
        Where the question comes from.
    axis : str
        The run field the study varies (the Compare page's axis for it).
    preset_note : str
        The preset grid in words, for the card.
    like_with_like : bool
        Whether its sides (the values of `axis`) are compared on the widths and data fractions every
        one of them has (answer() restricts the runs so); False where the design gives the sides
        different ranges on purpose (transfer's scratch runs span more data than its fine-tuned ones).
    """
    key: str
    title: str
    question: str
    paper: str
    axis: str
    preset_note: str
    like_with_like: bool = True


STUDIES = {s.key: s for s in (
    Study("noise", "Label noise",
          "Does corrupting a fraction of the training labels change the data exponent, or only the loss at small D?",
          "Data-scaling studies in neural machine translation (e.g. Bansal et al. 2022, \"Data scaling laws in NMT: "
          "the effect of noise and architecture\")",
          "label_noise",
          "one width, data fractions 1/256 to 1, label noise 0, 20% and 40% (the test set is never corrupted)"),
    Study("arch", "Architecture",
          "Does another architecture change the compute exponent, or only the constant (its effective capacity)?",
          "Hestness et al. 2017, \"Deep learning scaling is predictable, empirically\"; Bansal et al. 2022",
          "arch",
          "the CNN and an MLP (hidden width 16c) on the same widths and data fractions (to 1/2 on a CPU, to 1 on a GPU)"),
    Study("transfer", "Transfer",
          "How much data does pre-training on other digits buy? Pre-train on 0-4, fine-tune on a fraction of 5-9: the "
          "effective data transferred D_T = D_E − D_F, fitted as D_T = k · D_F^α · N^β.",
          "Hernandez et al. 2021, \"Scaling laws for transfer\"",
          "pretrain_classes",
          "from scratch on digits 5-9 at fractions 1/64 to 1, and fine-tuned on 5-9 at 1/256 to 1/16 after one epoch "
          "on all of 0-4 (the pre-trained weights are runs of their own, trained once per width and seed)",
          like_with_like=False),
    Study("bottleneck", "The data bottleneck",
          "With the data fixed and several epochs, growing N plateaus and then overfits: where does the plateau start, "
          "as a function of D?",
          "Kaplan et al. 2020, \"Scaling laws for neural language models\", section 4",
          "epochs",
          f"{BOTTLENECK_EPOCHS} epochs over fractions 1/256 to 1/16, widths 1 to 16 (to 64 on a GPU), 5 seeds; "
          "the answer reads Kaplan's L(N, D) fitted to them", like_with_like=False),
    Study("schedule", "The lr schedule",
          "How much do a cosine lr schedule and a learning rate tuned per configuration move the compute-optimal "
          "exponent a, the frontier's α_C and the seed noise, against a constant lr at the rule alone?",
          "Hoffmann et al. 2022 (\"Chinchilla\"), who decayed a cosine over each run and tuned it per budget, "
          "against Kaplan et al. 2020; the exercise: \"the importance of hyperparameter tuning for measuring scaling "
          "law exponents\"",
          "lr_schedule",
          "constant and cosine schedules, each at lr ×½, ×1 and ×2 of the rule (tuned: the best per configuration), "
          "widths 1 to 16 and fractions 1/256 to 1/8 with 3 seeds on a CPU (widths 1 to 45, fractions 1/128 to 1, "
          "5 seeds on a GPU)"),
)}


def _fractions(lo: int, hi: int) -> list[float]:
    """2^-lo .. 2^-hi, smallest first."""
    return [2.0 ** -k for k in range(lo, hi - 1, -1)]


def _grid(widths, fractions, seeds, **fixed) -> list[RunConfig]:
    return [RunConfig(width_step=k, data_fraction=f, seed=s, **fixed) for k in widths for f in fractions
            for s in range(seeds)]


def preset(key: str, device: str) -> list[RunConfig]:
    """The runs that answer one study on this device ('cpu', else a GPU), baselines included; for
    transfer, the pre-training runs too (each is a run of its own, so the plan counts its cost)."""
    cpu = device == "cpu"
    if key == "noise":
        # one width (the L(D) law is read at the widest width every noise level has) at every fraction
        return [c for n in (0.0, 0.2, 0.4)
                for c in _grid((3,) if cpu else (3, 5), _fractions(8, 0), 3 if cpu else 5, label_noise=n)]
    if key == "arch":
        return [c for a in ("cnn", "mlp")
                # on a CPU the full data set is left out: its steps are most of the time, and the frontier
                # law needs the spread of compute more than the last octave of it
                for c in _grid((-2, 0, 2, 4) if cpu else (-2, 0, 1, 2, 3, 4, 5, 6), _fractions(7, 1) if cpu else
                               _fractions(7, 0), 3, arch=a)]
    if key == "transfer":
        widths, seeds = ((0, 2, 4), 3) if cpu else ((0, 1, 2, 3, 4, 5, 6), 3)
        scratch = _grid(widths, _fractions(6, 0), seeds, classes=FINE_TUNE)
        tuned = _grid(widths, _fractions(8, 4), seeds, classes=FINE_TUNE, pretrain_classes=PRE_TRAIN)
        pre = list({c.pretraining.run_id: c.pretraining for c in tuned}.values())
        return pre + scratch + tuned
    if key == "bottleneck":
        widths = (-4, -2, -1, 0, 1, 2, 3, 4) if cpu else (-4, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8)
        # 5 seeds: at a few hundred examples one seed's loss wanders too far to read a plateau from
        return _grid(widths, _fractions(8, 4), 5, epochs=BOTTLENECK_EPOCHS)
    if key == "schedule":
        # on a CPU, widths 23-45 and fractions above 1/8 are left out: their steps are most of the time
        widths, fracs, seeds = ((-4, -2, 0, 2, 4), _fractions(8, 3), 3) if cpu else \
            ((-4, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7), _fractions(7, 0), 5)
        return [c for sched in LR_SCHEDULES for m in TUNE_MULTS
                for c in _grid(widths, fracs, seeds, lr_schedule=sched, lr_mult=m)]
    raise ValueError(f"unknown study {key!r} (one of {', '.join(STUDIES)})")


def preset_label(key: str, device: str) -> str:
    """The sweep's label in the queue and on the progress panel."""
    return f"study: {STUDIES[key].title.lower()} ({len(preset(key, device))} runs, {'CPU' if device == 'cpu' else 'GPU'} preset)"


def answer(key: str, runs: pd.DataFrame, n_boot: int = fit_studies.N_BOOT, seed: int = 0):
    """The study's answer on the cached runs (all of them: the study picks its own): a result of
    scaling.fit.studies with ok, answer (one sentence), exponents and the tables its charts draw."""
    if key not in STUDIES:
        raise ValueError(f"unknown study {key!r} (one of {', '.join(STUDIES)})")
    note = ""
    if STUDIES[key].like_with_like:
        runs, note = fit_studies.common_range(runs, STUDIES[key].axis)
    r = fit_studies.study(key, runs, n_boot=n_boot, seed=seed)
    return replace(r, answer=f"{sentence(note)} {r.answer}") if note and r.ok else r


def provisional(key: str, device: str, runs: pd.DataFrame) -> str:
    """'' once every run of the study's preset for this device is cached (finished ok or diverged), else
    why its answer is provisional: it can still change as the rest land."""
    want = {c.run_id for c in preset(key, device)}
    done = set(runs.loc[runs["status"].isin(["ok", "diverged"]), "run_id"]) if len(runs) else set()
    have = len(want & done)
    if have == len(want):
        return ""
    return (f"Provisional: {have} of {len(want)} runs of this study's preset are cached; the answer may change as the "
            "rest land.")
