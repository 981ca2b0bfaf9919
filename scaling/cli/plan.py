"""`scaling plan`: the runs that narrow a target's interval most for a budget, and --queue to train them."""
from __future__ import annotations

import json

from scaling import services
from scaling.cli.files import read_store


def plan(args) -> int:
    planner = services.planner
    budget = planner.parse_budget(args.budget)  # refused before any file is opened
    if args.sims < 3:
        raise ValueError(f"--sims {args.sims}: at least 3 (a spread needs them)")
    store = read_store(args.db, "no cached runs to plan from: ")
    runs = services.current(store.runs(status=None))
    runs = runs[runs.dataset == args.dataset]
    if runs.empty:
        raise ValueError(f"no cached {args.dataset} runs of the current protocol in {store.path}: run `scaling sweep` "
                         "or `scaling import` first")
    dropout = args.dropout if args.dropout is not None else float(runs["dropout"].mode().min())
    sel = services.Selection(dataset=args.dataset, dropout=dropout)
    if services.select(runs, sel).empty:
        raise ValueError(f"--dropout {dropout:g}: no cached runs with it here (cached: "
                         f"{', '.join(f'{d:g}' for d in sorted(runs['dropout'].unique()))})")
    curves = store.curves()
    device = services.device_info().label if budget[1] == "s" else None  # a time budget is priced on this device
    p = planner.plan_runs(runs, curves, sel, budget, args.target, device_label=device, n_boot=args.bootstrap,
                          n_sim=args.sims, seed=args.seed, hedge=args.hedge)
    queued = None
    if args.queue and p.configs:
        queued = planner.queue_plan(store, p, sel, args.device)
    if args.json:
        out = planner.plan_json(p)
        out["family"] = services.describe_family(sel.family)
        if queued:
            out["queued"] = {"sweep_id": queued[0], "runs": queued[1]}
        print(json.dumps(out))
        return 0
    print(f"family: {services.describe_family(sel.family)}")
    print(planner.describe(p))
    if queued:
        print(f"queued {queued[1]} runs as sweep {queued[0]}, their predictions written down first; a worker trains "
              "them (`scaling fit` refits as they land)")
    elif p.configs:
        print("rerun with --queue to train them, their predictions written down first")
    return 0
