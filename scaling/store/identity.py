"""One configuration, one row: a run's id is the hash of its canonical values (config.identity), so
spellings of one value (-0 and 0, digits in another script) never make a second run_id. The schema 6
migration moves rows an older version stored under a non-canonical id to their canonical id, merged
with the row already there, in one transaction; canonical_rows does the same to an older version's
export as it is imported. Only ids that an older version computed are moved: an id that hashes
neither way is left alone (CHANGELOG.md has the history)."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import fields

import numpy as np
import pandas as pd

from scaling.core.config import STUDY_DEFAULTS, RunConfig, canonical_value, identity

FIELDS = [f.name for f in fields(RunConfig)]


def canonical_ids(con) -> None:
    """Give runs, curves, weights, queued runs and sweeps the canonical ids of their configurations."""
    renamed = _merge_runs(con)
    _fix_queue(con)
    for sweep_id, ids in con.execute("SELECT sweep_id, run_ids FROM sweeps").fetchall():
        new = list(dict.fromkeys(renamed.get(i, i) for i in ids))
        if new != ids:
            con.execute("UPDATE sweeps SET run_ids = ? WHERE sweep_id = ?", [new, sweep_id])


def _key(rec: dict) -> str:
    """The canonical id of a row whose id an older version hashed from its values, else its own id."""
    cid = identity(rec, rec["protocol"])
    return cid if rec["run_id"] in (cid, identity(rec, rec["protocol"], canonical=False)) else rec["run_id"]


def _merge_runs(con) -> dict[str, str]:
    # a study axis added by a later migration is not a column yet: its default, as every row then had
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
    stored = [k for k in FIELDS if k in have]
    cols = ["run_id", "protocol", "status", *stored]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM runs ORDER BY created_at, run_id").fetchall()
    groups = defaultdict(list)
    for row in rows:
        rec = {**STUDY_DEFAULTS, **dict(zip(cols, row))}
        groups[_key(rec)].append(rec)
    renamed = {}
    for cid, recs in groups.items():
        if len(recs) == 1 and recs[0]["run_id"] == cid:
            continue
        # keep a result over a failed attempt, then the row already under the canonical id (the id
        # other caches, exports and sweeps know it by), then the first written (rows are in that order)
        keep = min(recs, key=lambda r: (r["status"] == "failed", r["run_id"] != cid))
        for rec in recs:
            if rec is not keep:
                for table in ("curves", "weights", "runs"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", [rec["run_id"]])
                renamed[rec["run_id"]] = cid
        if keep["run_id"] != cid:
            values = [canonical_value(k, keep[k]) for k in stored]
            con.execute(f"UPDATE runs SET run_id = ?, {', '.join(f'{k} = ?' for k in stored)} WHERE run_id = ?",
                        [cid, *values, keep["run_id"]])
            for table in ("curves", "weights"):
                con.execute(f"UPDATE {table} SET run_id = ? WHERE run_id = ?", [cid, keep["run_id"]])
            renamed[keep["run_id"]] = cid
    return renamed


def _fix_queue(con) -> None:
    """A queued run under an older version's id: under its canonical id, or off the queue where that
    configuration is cached or queued already."""
    taken = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status <> 'failed' "
                                       "UNION ALL SELECT run_id FROM queue").fetchall()}
    for run_id, text in con.execute("SELECT run_id, config FROM queue").fetchall():
        try:
            d = {**STUDY_DEFAULTS, **json.loads(text)}  # a config queued before the study axes lacks them
            cfg = RunConfig.from_dict(d)
            old = identity(d, canonical=False)
        except (ValueError, TypeError, KeyError):  # not a config this version can read: left as it is
            continue
        if run_id != old or old == cfg.run_id:
            continue
        if cfg.run_id in taken:
            con.execute("DELETE FROM queue WHERE run_id = ?", [run_id])
        else:
            con.execute("UPDATE queue SET run_id = ?, config = ?, stack = ? WHERE run_id = ?",
                        [cfg.run_id, json.dumps(cfg.to_dict()), repr(cfg.stack_key), run_id])
            taken.add(cfg.run_id)


def canonical_rows(runs: pd.DataFrame, curves: pd.DataFrame, renamed: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An export's rows that an older version wrote under a second id (`renamed`: {id: (canonical id,
    config)}) under their canonical id and values; where the file holds a configuration twice, the row
    already under the canonical id is kept (the one every other cache knows), with its curve."""
    original = runs["run_id"].to_numpy(dtype=object)
    moved = runs["run_id"].isin(renamed).to_numpy()
    runs = runs.copy()
    for i in np.flatnonzero(moved):
        run_id, cfg = renamed[original[i]]
        for k, v in {"run_id": run_id, **cfg.to_dict()}.items():
            runs.iat[i, runs.columns.get_loc(k)] = v
    order = np.argsort(moved, kind="stable")  # the rows already canonical first: they are the ones kept
    dup = np.zeros(len(runs), bool)
    dup[order] = pd.Series(runs["run_id"].to_numpy(dtype=object)[order]).duplicated().to_numpy()
    curves = curves[~curves["run_id"].isin(set(original[dup]))].copy()
    curves["run_id"] = curves["run_id"].map(lambda r: renamed[r][0] if r in renamed else r)
    return runs[~dup].reset_index(drop=True), curves.reset_index(drop=True)
