"""A click on a chart's point names its run: a point selection added to a Figure's pickable layers.

One param per layer (Vega-Lite wants their names unique), each projected on the fields that say
which run or configuration the point is: run_id where the layer's data has it, else the
configuration fields it has (width, data_fraction, seed, ...), which
scaling.services.run_detail.runs_at maps back to runs. A page reads a click as
{param name: [{field: value, ...}]} (Streamlit's chart selection state) and asks picked() for it.
"""
from __future__ import annotations

import copy
import dataclasses

from scaling.charts.vega import Figure

PICK = "pick_run"
# what names a point's run, most specific first; "selection" (Compare's label) says which selection's runs
ID_FIELDS = ("run_id",)
CONFIG_FIELDS = ("selection", "arch", "label_noise", "classes", "pretrain_classes", "epochs", "dropout", "width_step",
                 "width", "data_fraction", "seed", "lr_mult", "params", "examples")
_POINTED = {"point", "circle", "square", "tick"}  # marks a click lands on (a line only where it draws its points)


def _pointed(m) -> bool:
    kind = m if isinstance(m, str) else m.get("type") if isinstance(m, dict) else None
    return kind in _POINTED or (kind == "line" and isinstance(m, dict) and bool(m.get("point")))


SIZE_FIELDS = ("width", "width_step", "params")  # a point names a configuration only where it names a size


def _fields(frame) -> list[str]:
    """The fields that name a point's run or configuration; none where the data cannot (an exponent per
    setting, a budget's optimum): a click there would stand for every run of a side."""
    cols = set(frame.columns)
    if "run_id" in cols:
        return ["run_id"]
    return [f for f in CONFIG_FIELDS if f in cols] if cols & set(SIZE_FIELDS) else []


def pickable(fig: Figure, only: tuple[str, ...] | None = None) -> Figure:
    """A copy of `fig` whose point layers (those on data sets named in `only`, else every one whose
    data says which run or configuration a point is) select the clicked point's run. Layers already
    holding a selection keep theirs (the width legend, say) and get one more."""
    chart = copy.deepcopy(fig.chart)
    names: list[str] = []

    def visit(node, data_name):
        if isinstance(node, dict):
            if isinstance(node.get("data"), dict) and "name" in node["data"]:
                data_name = node["data"]["name"]
            if "mark" in node and "encoding" in node and _pointed(node["mark"]) and data_name in fig.data:
                fields = _fields(fig.data[data_name])
                if fields and (only is None or data_name in only):
                    name = f"{PICK}_{len(names)}"
                    names.append(name)
                    node.setdefault("params", []).append(
                        {"name": name, "select": {"type": "point", "fields": fields, "on": "click",
                                                  "clear": "dblclick", "toggle": False}})
            for k in ("layer", "spec"):
                child = node.get(k)
                for c in child if isinstance(child, list) else [child] if isinstance(child, dict) else []:
                    visit(c, data_name)

    visit(chart, None)
    return dataclasses.replace(fig, chart=chart) if names else fig  # the caption kept


def params(fig: Figure) -> list[str]:
    """The names of the pick params pickable() added (Streamlit's selection_mode)."""
    out = []

    def visit(node):
        if isinstance(node, dict):
            out.extend(p["name"] for p in node.get("params", []) if str(p.get("name", "")).startswith(PICK))
            for k in ("layer", "spec"):
                child = node.get(k)
                for c in child if isinstance(child, list) else [child] if isinstance(child, dict) else []:
                    visit(c)

    visit(fig.chart)
    return out


def picked(state) -> dict | None:
    """The clicked point's fields from a chart's selection state ({param: [{field: value}]}, or an
    object with .selection holding that), the most specific first; None when nothing is picked."""
    if isinstance(state, dict) and "selection" in state:
        sel = state["selection"]
    else:
        sel = getattr(state, "selection", state)
    # a click updates every layer's param (Vega-Lite's selections are global): each projects the clicked
    # point on its own fields, empty where the point lacks them; the run_id, else the most fields, wins
    found = []
    for name, vals in dict(sel or {}).items():
        if name.startswith(PICK) and isinstance(vals, list) and vals and isinstance(vals[0], dict):
            point = {k: v for k, v in vals[0].items() if not k.startswith("vg") and v is not None}
            if point:
                found.append(point)
    return max(found, key=lambda p: ("run_id" in p, len(p))) if found else None
