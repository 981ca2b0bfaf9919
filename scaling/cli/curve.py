"""`scaling curve`: learning curves from a CSV, each fitted with the form its own backtest picks,
and extrapolated to the rows held out."""
from __future__ import annotations

import json

from scaling.cli.files import read_table
from scaling.core.text import printable


def curve(args) -> int:
    from scaling.fit import curves

    table = read_table(args.csv)
    groups = [g.strip() for g in args.group.split(",") if g.strip()] if args.group else []
    results = curves.fit_table(table, args.x_col, args.loss_col, groups, args.train_col, form=args.form)
    if args.json:
        print(json.dumps(curves.table_json(results), indent=1))
        return 0
    for r in results:
        label = ", ".join(f"{k}={v}" for k, v in r.group.items()) or "the table"
        params = ", ".join(f"{k} = {v:.4g}" for k, v in r.params.items())
        print(printable(f"{label}: {r.form} ({params})"))
        print(printable(f"  {r.reason}"))
        held = sum(not p["fitted"] for p in r.predictions)
        if held:
            print(f"  log-RMSE on the {held} held-out rows: {r.rmse_log_heldout:.4f} (fitted rows: {r.rmse_log:.4f})")
    return 0
