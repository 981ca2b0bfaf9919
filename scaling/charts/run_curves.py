"""The run view's chart: the stored validation curves of one or more runs against examples seen, each
run's one stored training loss a cross at its end (services.run_detail.RunDetail's frames in)."""
from __future__ import annotations

import pandas as pd

from scaling.charts.vega import HEIGHT, SI, _figure, _legend, _title, _vals, enc, layered, log_enc, mark, unit


@_figure
def run_curves(src, curves: pd.DataFrame, train: pd.DataFrame, title: str = "Validation loss during training") -> dict:
    """curves: run, examples, val_loss, val_acc; train: run, examples, train_loss."""
    cv = curves.dropna(subset=["val_loss"])
    cv = cv[cv["examples"] > 0]
    x = log_enc("examples:Q", "training examples seen", _vals(cv["examples"], train["examples"]), label_expr=SI)
    y = log_enc("val_loss:Q", "loss", _vals(cv["val_loss"], train["train_loss"]))
    runs = list(dict.fromkeys([*cv["run"], *train["run"]]))
    color = enc("run:N", sort=runs, title="run", legend=_legend(len(runs), labelLimit=260))
    layers = [unit(src("curves", cv), mark("line", point=True), x=x, y=y, color=color,
                   tooltip=[enc("run:N"), enc("examples:Q", format=",", title="examples seen"),
                            enc("val_loss:Q", format=".4f", title="val loss"),
                            enc("val_acc:Q", format=".2%", title="val accuracy")])]
    if len(train):
        layers.append(unit(src("train", train), mark("point", shape="cross", size=120, filled=True),
                           x=x, y={**y, "field": "train_loss"}, color=color,
                           tooltip=[enc("run:N"), enc("train_loss:Q", format=".4f",
                                                      title="train loss (last 20 steps)")]))
    return layered(*layers, title=_title(title, "lines: validation loss on the 10k test set; "
                                                "crosses: the final training loss (the only one stored)",
                                         subtitleColor="gray"), height=HEIGHT)
