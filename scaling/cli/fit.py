"""`scaling fit`: one run family's (or a CSV's) exponents with intervals, a backtest, a study's answer."""
from __future__ import annotations

import json

from scaling import services
from scaling.cli.files import read_store, read_table
from scaling.core.fmt import fmt_flops, fmt_s


def fit(args) -> int:
    from scaling import fit as fitting

    if args.csv:
        table = read_table(args.csv)
        if args.drop_highest >= len(table):
            raise ValueError(f"--drop-highest {args.drop_highest}: the table has {len(table)} rows (one at least must stay)")
        result = fitting.fit_table(table, n_col=args.n_col, loss_col=args.loss_col, d_col=args.d_col, c_col=args.c_col,
                                   drop_highest=args.drop_highest, n_boot=args.bootstrap, seed=args.seed)
        print(json.dumps(result.to_dict()) if args.json else result.format())
        return 0
    store = read_store(args.db, f"no cached {args.dataset} runs: ")
    all_runs = store.runs(status=None)
    if args.study:
        result = services.studies.answer(args.study, all_runs, n_boot=args.bootstrap, seed=args.seed)
        print(json.dumps({"study": args.study, **result.to_dict()}) if args.json else result.format())
        return 0 if result.ok else 1
    runs_df, family = family_runs(args, all_runs, store.path)
    curves = store.curves()
    curves = curves[curves.run_id.isin(runs_df.run_id)]
    lr = "tuned" if args.lr == "tuned" else float(args.lr)
    law = True if args.irreducible else False if args.pure else None  # None: the backtest's choice
    result = fitting.analyze(runs_df, curves, lr=lr, irreducible=law, n_boot=args.bootstrap,
                             seed=args.seed, compute=args.compute)
    family = {"dataset": args.dataset, **family}
    bt = fitting.backtest(runs_df, octaves=args.backtest, lr=lr) if args.backtest is not None else None
    if args.json:
        print(json.dumps({"family": family, **result.to_dict(), **({"backtest": bt.to_dict()} if bt else {})}))
    else:
        others = len(services.current(all_runs).drop_duplicates(services.FAMILY)) - 1
        print(f"family: {services.describe_family(family)}"
              + (f" ({others} other families cached: choose with --dropout, --lr-rule, --epochs, --batch-size, "
                 "--precision, --arch, --label-noise, --classes, --pretrain-*, --lr-schedule)" if others > 0 else ""))
        print(fitting.format_analysis(result))
        if not (result.nopt["envelope"].ok and result.nopt["isoflop"].ok):
            _print_bracket(all_runs, runs_df, family, result, args)
        if bt is not None:
            print(bt.format())
    return 0


def _print_bracket(all_runs, family_runs, family: dict, result, args) -> None:
    """Which runs would let the envelope and IsoFLOP estimators answer, what they cost here, and the
    command that trains them."""
    sel = services.Selection(**family)
    b = services.bracket(all_runs, sel, result.nopt)
    for line in b.why + b.limit:
        print(f"  edge of the grid: {line}")
    if b.empty:
        return
    device = family_runs["device"].mode().iloc[0] if family_runs["device"].notna().any() else "cpu"
    est_s = services.time_model(all_runs, device).seconds(b.configs)
    flops = sum(c.flops for c in b.configs)
    flags = [f"--dataset {family['dataset']}", f"--dropout {family['dropout']:g}", f"--lr-rule {family['lr_rule']}",
             f"--epochs {family['epochs']}", f"--batch-size {family['batch_size']}"]
    if args.db:
        flags.append(f"--db {args.db}")
    print(f"  to bracket the optimum: {b.describe()}: {len(b.configs)} runs, {fmt_flops(flops)}, about "
          f"{fmt_s(est_s)} on {device}:\n"
          f"    scaling sweep --bracket {' '.join(flags)}")


def family_runs(args, all_runs, path):
    """The runs of the family the flags name (a flag left out: the most common cached value, the app's
    default on a tie), every status; and that family as a dict. `scaling notebook` selects as this does."""
    runs_df = services.current(all_runs)
    runs_df = runs_df[runs_df.dataset == args.dataset]
    if runs_df.empty:
        stale = services.n_stale(all_runs)
        raise ValueError(f"no cached {args.dataset} runs of the current protocol in {path}"
                         + (f" ({stale} stale runs of an older one are never fitted)" if stale else "")
                         + ": run `scaling sweep` first")
    family = {}
    for name, flag in (("dropout", "--dropout"), ("lr_rule", "--lr-rule"), ("epochs", "--epochs"),
                       ("batch_size", "--batch-size"), ("precision", "--precision"), ("arch", "--arch"),
                       ("label_noise", "--label-noise"), ("classes", "--classes"),
                       ("pretrain_classes", "--pretrain-classes"), ("pretrain_fraction", "--pretrain-fraction"),
                       ("pretrain_epochs", "--pretrain-epochs"), ("lr_schedule", "--lr-schedule")):
        cached = runs_df[name].dropna()
        value = getattr(args, name)
        if value is None:  # the most common; a tie goes to the app's default (fp32, 1 epoch, ...)
            modes = sorted(cached.mode().tolist())
            default = getattr(services.Selection(), name)
            if name in services.STUDY_AXES:  # the exercise's setting wherever it is cached: studies are asked for
                modes = [default] if (cached == default).any() else modes
            value = default if default in modes else modes[0] if modes else None
        match = (runs_df[name] - value).abs() < 1e-9 if isinstance(value, float) else runs_df[name] == value
        if not match.any():
            raise ValueError(f"{flag} {value}: no cached runs with it here (cached: "
                             f"{', '.join(map(str, sorted(cached.unique())))})")
        family[name] = value.item() if hasattr(value, "item") else value
        runs_df = runs_df[match]
    return runs_df, family
