"""The study results' shared base (to_dict, format) and the rows of their exponents table."""
from __future__ import annotations

import math
from dataclasses import fields

from scaling.core.fmt import fmt_interval
from scaling.fit.intervals import Interval
from scaling.fit.serialize import jsonable


def _exp_row(setting: str, value: float, iv: Interval | None, n_runs: int, **extra) -> dict:
    return dict(setting=setting, value=value, lo=iv.lo if iv else math.nan, hi=iv.hi if iv else math.nan,
                answered=iv.answered() if iv else "", reliable=bool(iv and iv.reliable), n_runs=n_runs, **extra)


EXP_COLUMNS = ["setting", "value", "lo", "hi", "answered", "reliable", "n_runs"]


class _Result:
    """to_dict and format shared by the study results (frozen dataclasses)."""
    key = ""
    title = ""

    def to_dict(self) -> dict:
        return jsonable({"study": self.key, **{f.name: getattr(self, f.name) for f in fields(self)}})

    def format(self) -> str:
        lines = [f"{self.title}", f"  {self.answer}"]
        if self.ok or len(self.exponents):
            lines.append(f"  runs used: {self.n_runs}; family: "
                         + ", ".join(f"{k} {v}" for k, v in self.family.items()))
            for r in self.exponents.itertuples():
                iv = f" {fmt_interval(r.lo, r.hi)} ({r.answered})" if math.isfinite(r.lo) else ""
                lines.append(f"  {r.setting:<28} {r.value:.3f}{iv}" if math.isfinite(r.value)
                             else f"  {r.setting:<28} cannot be estimated")
        lines += [f"  {x}" for x in self._details()]
        return "\n".join(lines)

    def _details(self) -> list[str]:
        return []
