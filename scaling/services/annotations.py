"""What the pages and the CLI ask about annotations: exclude runs from every fit (with a reason),
include them again, notes on runs and sweeps, and what a page says about the excluded runs it shows.

The exclusion itself is applied where runs are read (scaling.store.annotations: an excluded run
reads with status 'excluded'), so every fit, study and comparison leaves it out with no page asking.
"""
from __future__ import annotations

import pandas as pd

from scaling.core.fmt import md_text
from scaling.store import EXCLUDED, Store
from scaling.store.annotations import MAX_TEXT


def exclude(store: Store, run_ids, reason: str) -> int:
    """Leave these runs out of every fit; ValueError for an unknown run or an empty reason (nothing changed)."""
    return store.exclude(list(run_ids), reason)


def include(store: Store, run_ids) -> int:
    """Count these runs in fits again."""
    return store.include(list(run_ids))


def note_runs(store: Store, run_ids, note: str) -> int:
    """A note on these runs ('' removes it)."""
    return store.note_runs(list(run_ids), note)


def note_sweep(store: Store, sweep_id: str, note: str) -> None:
    """A note on a sweep ('' removes it)."""
    store.note_sweep(sweep_id, note)


def is_excluded(runs: pd.DataFrame) -> pd.Series:
    """Which of these runs are excluded from fits (False for a table without the annotations)."""
    if "excluded" not in runs.columns:
        return pd.Series(False, index=runs.index)
    return runs["excluded"].notna()


def excluded_note(runs: pd.DataFrame) -> str:
    """One Markdown line on the excluded runs among `runs` ('' when none): how many, and why (the
    researcher's words, escaped); the Runs page lists them below it."""
    ex = runs[is_excluded(runs)]
    if ex.empty:
        return ""
    by = ex["excluded"].astype(str).value_counts()
    why = "; ".join(f"“{md_text(k)}” ({v})" for k, v in by.head(4).items()) + ("; …" if len(by) > 4 else "")
    n = len(ex)
    return (f"{n} run{'s' * (n != 1)} {'is' if n == 1 else 'are'} excluded from every fit by hand: {why}. "
            "Include one again with one click:")


def describe_excluded(runs: pd.DataFrame) -> list[str]:
    """`scaling runs`'s lines for the excluded runs: run id and reason (plain text)."""
    ex = runs[is_excluded(runs)]
    return [f"excluded {r.run_id}: {r.excluded}" for r in ex.itertuples()]


__all__ = ["EXCLUDED", "MAX_TEXT", "describe_excluded", "exclude", "excluded_note", "include", "is_excluded", "note_runs",
           "note_sweep"]
