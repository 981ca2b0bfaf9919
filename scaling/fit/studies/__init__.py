"""Studies beyond the exercise: one question each, answered from the cached runs with 95% intervals.

    study_noise       does label noise change the data exponent, or only the loss at small D?
    study_arch        does the architecture change the compute exponent, or only the constant?
    study_transfer    how much data does pre-training on other digits buy? (Hernandez et al. 2021)
    study_bottleneck  with D fixed and several epochs, where does growing N stop helping, and does
                      it overfit past there? (Kaplan et al. 2020, section 4)
    study_schedule    how much do a cosine lr schedule and a tuned lr move a, alpha_C and the seed
                      noise? (Hoffmann et al. 2022 against Kaplan et al. 2020)

Each takes every cached run (any status, any axis), keeps what its question needs (status ok, the
newest protocol, one family: the most common dataset, dropout, lr rule, batch size and precision),
averages seeds per cell with the learning rate chosen as fit.runs chooses it (lr 'tuned': the best
cached multiplier of each cell, chosen again in every resample), fits, and resamples seeds for the
intervals exactly as fit.analysis does (Resampler: whole seeds with 5 or more, else seeds within
each data fraction; widened by sqrt(n/(n-1))). Seeds are drawn jointly for every setting of a study:
a seed fixes the data subset that every setting of it shares, so the settings are compared on
paired draws.

Not enough data is an answer too, not an exception: `ok` is False and `answer` names the runs that
are missing ("needs runs at 3 or more data fractions at width 23 with 20% label noise").

    __init__.py    study(key, runs), STUDIES and every public name below
    common.py      cached runs cleaned to one family, seed means per cell (_Cells), seed resamples per side
                   (_resample), the range every side has (common_range)
    prose.py       whether two intervals overlap, in the answers' words (numbers: scaling.core.fmt)
    result.py      the results' shared to_dict/format and the rows of their exponents table
    noise.py       study_noise, NoiseStudy
    arch.py        study_arch, ArchStudy
    transfer.py    study_transfer, TransferStudy
    bottleneck.py  study_bottleneck, BottleneckStudy, plateau_start
    schedule.py    study_schedule, ScheduleStudy
"""
from __future__ import annotations

import pandas as pd

from scaling.fit.studies.arch import ArchStudy, study_arch
from scaling.fit.studies.bottleneck import (
    KAPLAN_BOUND,
    MIN_WIDTHS,
    PLATEAU_TOL,
    BottleneckStudy,
    plateau_start,
    study_bottleneck,
)
from scaling.fit.studies.common import FAMILY, LEVEL, MIN_FRACTIONS, N_BOOT, common_range
from scaling.fit.studies.noise import NoiseStudy, study_noise
from scaling.fit.studies.result import EXP_COLUMNS
from scaling.fit.studies.schedule import ScheduleStudy, study_schedule
from scaling.fit.studies.transfer import TransferStudy, study_transfer

STUDIES = {"noise": study_noise, "arch": study_arch, "transfer": study_transfer, "bottleneck": study_bottleneck,
           "schedule": study_schedule}


def study(key: str, runs: pd.DataFrame, **kw):
    """The answer of one study (a key of STUDIES) on these runs."""
    if key not in STUDIES:
        raise ValueError(f"unknown study {key!r} (one of {', '.join(STUDIES)})")
    return STUDIES[key](runs, **kw)


__all__ = [
    "ArchStudy", "BottleneckStudy", "EXP_COLUMNS", "FAMILY", "KAPLAN_BOUND", "LEVEL", "MIN_FRACTIONS", "MIN_WIDTHS",
    "N_BOOT", "NoiseStudy", "common_range", "PLATEAU_TOL", "STUDIES", "ScheduleStudy", "TransferStudy", "plateau_start",
    "study", "study_arch", "study_bottleneck", "study_noise", "study_schedule", "study_transfer",
]
