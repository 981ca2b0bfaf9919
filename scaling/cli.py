"""The `scaling` command: sweep, runs, export, import, fit, worker, doctor."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

from scaling import cli_args as types
from scaling.core import grid
from scaling.cli_args import add_db as _add_db, add_ray as _add_ray
from scaling.cli_io import check_not_the_database, os_error, read_store, write_file
from scaling.store import RUN_COLUMNS, Store, StoreError
from scaling import services
from scaling.core.text import printable
from scaling.core.fmt import fmt_flops, fmt_s

EXPORT_COLUMNS = [c for c in RUN_COLUMNS if c != "created_at"]


def parser() -> argparse.ArgumentParser:
    ap = types.Parser(prog="scaling", description="Neural scaling laws on MNIST, hands-on.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("sweep", help="train a grid of runs (cached runs are skipped)")
    s.add_argument("--widths", default="0:4", help="width steps -4..12: a:b (a..b-1) or a list; width = "
                   "round(4*sqrt(2)^k): -4, -2, -1 are widths 1, 2, 3 (-3 is skipped: width 1 again)")
    s.add_argument("--fractions", default="1/64:1/8", help="training fractions: 1/128:1 (powers of two) or a list")
    s.add_argument("--seeds", default="0:1", help="seeds: a:b or a list")
    s.add_argument("--dropout", default="0", help="dropout probabilities, a list")
    s.add_argument("--lr-mult", default=None, help="learning-rate multipliers, a list (default 1)")
    s.add_argument("--lr-scan", action="store_true",
                   help="the multipliers a tuned learning rate needs: 0.5,1,2 (instead of --lr-mult)")
    s.add_argument("--lr-rule", default="fan_in", choices=["fan_in", "constant"])
    s.add_argument("--dataset", default="mnist")
    s.add_argument("--epochs", type=int, default=1)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--arch", default="cnn", help="model families, a list: cnn (the exercise's), mlp (a 784-16c-16c-10 "
                   "MLP on the same width knob)")
    s.add_argument("--label-noise", default="0", help="fractions of the training labels replaced by another label, "
                   "a list in [0, 1) (seeded; the test set is never corrupted)")
    s.add_argument("--classes", default="all", help="the digits to train and evaluate on, e.g. 56789 (default: all)")
    s.add_argument("--pretrain-classes", default="", help="transfer: fine-tune from a run pre-trained on these digits "
                   "(apart from --classes; a cached run of its own, trained first when missing)")
    s.add_argument("--pretrain-fraction", default="1", help="the pre-training run's data fraction of its digits")
    s.add_argument("--pretrain-epochs", type=int, default=1, help="the pre-training run's epochs")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda")
    s.add_argument("--curves", choices=["auto", "on", "off"], default="auto",
                   help="record validation curves during training (auto: on for CUDA, off for CPU)")
    s.add_argument("--max-runs", type=int, default=None,
                   help=f"refuse grids larger than this (default: $SCALING_MAX_RUNS or {grid.MAX_RUNS})")
    s.add_argument("--bracket", action="store_true",
                   help="instead of a grid: the runs that let the envelope and IsoFLOP estimators answer on what is "
                        "cached (smaller or larger widths, more data fractions), for the family of --dataset, "
                        "--dropout, --lr-rule, --epochs, --batch-size on this device")
    s.add_argument("--study", choices=list(services.studies.STUDIES), help="instead of a grid: the preset that answers one study "
                   "on this device (noise, arch, transfer, bottleneck; the Studies page's), baselines included")
    s.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    _add_ray(s)
    _add_db(s)

    r = sub.add_parser("runs", help="list cached runs")
    r.add_argument("--json", action="store_true")
    r.add_argument("--all", action="store_true", help="include diverged, failed and stale (older protocol) runs")
    _add_db(r)

    e = sub.add_parser("export", help="write cached runs to CSV, or to Parquet with their curves and provenance "
                       "(what `scaling import` reads)")
    e.add_argument("--format", choices=["csv", "parquet"], default="csv",
                   help="csv: the runs table, every status; parquet: the finished runs (ok, diverged) with their "
                        "validation curves, the code version and the machine, for `scaling import`")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--label", default="", help="what the file holds, in words (parquet; shown by whoever imports it)")
    _add_db(e)

    m = sub.add_parser("import", help="add the runs of another Scaling Lab's Parquet export to this cache")
    m.add_argument("file", help="a file written by `scaling export --format parquet`")
    _add_db(m)

    f = sub.add_parser("fit", help="fit scaling laws to cached runs, or the parametric L(N, D) to a table")
    f.add_argument("--dataset", default="mnist")
    f.add_argument("--dropout", type=float, help="the run family's dropout (default, as for each of the next "
                   "four: the most common value among the cached runs)")
    f.add_argument("--lr-rule", choices=["fan_in", "constant"], help="the family's learning-rate rule")
    f.add_argument("--epochs", type=int, help="the family's number of epochs")
    f.add_argument("--batch-size", type=int, help="the family's batch size")
    f.add_argument("--precision", choices=["fp32", "bf16"], help="the family's precision (bf16: CUDA autocast)")
    f.add_argument("--arch", choices=["cnn", "mlp"], help="the family's model (default: cnn where cached)")
    f.add_argument("--label-noise", type=float, help="the family's label noise (default: 0 where cached)")
    f.add_argument("--classes", type=types.digits, help="the family's digits, e.g. 56789 (default: all where cached)")
    f.add_argument("--pretrain-classes", type=types.digits,
                   help="the family's pre-training digits (default: none where cached)")
    f.add_argument("--pretrain-fraction", type=float, help="the family's pre-training fraction")
    f.add_argument("--pretrain-epochs", type=int, help="the family's pre-training epochs")
    f.add_argument("--lr", default="tuned", type=types.lr,
                   help="'tuned' (best cached multiplier per config) or one multiplier")
    f.add_argument("--irreducible", action="store_true", help="fit L(C) = E + A C^-alpha instead of A C^-alpha")
    f.add_argument("--bootstrap", type=types.bootstrap, default=200,
                   help=f"bootstrap resamples for the intervals (0: none; at most {types.MAX_BOOTSTRAP})")
    f.add_argument("--seed", type=types.seed, default=0, help="bootstrap seed")
    f.add_argument("--backtest", nargs="?", type=types.octaves, const=2.0, metavar="OCTAVES",
                   help="also fit each law below the top OCTAVES (default 2) octaves of compute and score its "
                        "prediction of the held-out frontier (RMS log error, mean absolute error)")
    f.add_argument("--study", choices=list(services.studies.STUDIES), help="answer one study instead (noise: the data exponent "
                   "per label noise; arch: the frontier per architecture; transfer: D_T = k D_F^alpha N^beta; "
                   "bottleneck: where N stops helping per D), on every cached run it needs")
    f.add_argument("--csv", help="fit this table instead of the cache")
    f.add_argument("--n-col"), f.add_argument("--d-col"), f.add_argument("--c-col"), f.add_argument("--loss-col")
    f.add_argument("--drop-highest", type=types.count, default=0, help="drop the K highest-loss rows first (--csv)")
    f.add_argument("--json", action="store_true")
    _add_db(f)

    d = sub.add_parser("doctor", help="what this machine trains with: processor, C kernel build, CPU path and why")
    d.add_argument("--json", action="store_true")

    w = sub.add_parser("worker", help="serve the queue of a database (the app starts one)")
    w.add_argument("--device", default="auto")
    w.add_argument("--idle-exit", type=float, default=30.0, help="exit after this many idle seconds")
    w.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much (0-19; the "
                   "app's worker takes 10: the page's server then gets a core whenever it asks, and training "
                   "every core while it does not)")
    _add_ray(w)
    _add_db(w)
    return ap


def _ray_address(args) -> str | None | bool:
    """False: no Ray; None: a local instance; else the address to join. `scaling worker` follows
    $SCALING_RAY_ADDRESS without the flag, so the app's worker trains where the host says."""
    from scaling.workers import cluster

    if args.ray is None and not (args.cmd == "worker" and os.environ.get(cluster.ADDRESS_ENV)):
        return False
    return cluster.address_from(args.ray)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(types.negative_values(argv))
    except SystemExit as e:  # a usage error (one line, see cli_args.Parser) or --help: its exit code
        return e.code
    for name, value in vars(args).items():  # argparse reads `--flag=--` as an empty list
        if isinstance(value, list):
            print(f"scaling {args.cmd}: error: --{name.replace('_', '-')}: {value!r} is not a value", file=sys.stderr)
            return 2
    args.command = " ".join(["scaling", *argv])  # recorded by an export, as it was typed
    from scaling.datasets import DataError

    try:
        return {"sweep": sweep, "runs": runs, "export": export, "import": import_, "fit": fit, "worker": worker,
                "doctor": doctor}[args.cmd](args)
    except (grid.GridError, StoreError, DataError, ValueError) as e:
        print(f"scaling {args.cmd}: error: {printable(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a file name too long: the file and the OS's words
        print(f"scaling {args.cmd}: error: {printable(os_error(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nscaling {args.cmd}: interrupted; finished runs are saved, rerun to resume", file=sys.stderr)
        return 130


def sweep(args) -> int:
    from tqdm import tqdm

    from scaling import datasets
    from scaling.workers import jobs
    from scaling.training import train  # torch loads only for commands that train

    if args.lr_scan and args.lr_mult is not None:
        raise grid.GridError("--lr-scan: give it or --lr-mult, not both")
    lr_mults = ",".join(map(str, services.LR_SCAN)) if args.lr_scan else args.lr_mult or "1"
    limit = grid.run_limit() if args.max_runs is None else args.max_runs
    if limit < 1:
        raise grid.GridError(f"--max-runs: {limit} must be a positive integer")
    device = train.resolve_device(args.device)
    store = Store(args.db)
    if args.bracket:
        configs = _bracket(store, args, train.precision(device), limit)
        if not configs:
            return 0
    elif args.study:
        from scaling.core.config import with_pretraining

        configs = with_pretraining(services.studies.preset(args.study, train.device_type(device)))
        if len(configs) > limit:
            raise grid.GridError(f"--study {args.study}: {len(configs)} runs, over the limit of {limit} (--max-runs)")
    else:
        configs = _grid(args, lr_mults, limit)
    ids = [c.run_id for c in configs]

    cached = store.cached_ids(ids)
    todo = [c for c in configs if c.run_id not in cached]
    if args.dry_run:
        print(f"plan: {len(configs)} runs, {len(cached)} cached, {len(todo)} to train, "
              f"{fmt_flops(sum(c.flops for c in todo))} of training compute (C = 3 x forward FLOPs x D) on {device}")
        return 0
    if todo:  # a missing or corrupt data file stops here, before anything is queued
        for name in sorted({c.dataset for c in todo}):
            datasets.check(name)
    _, n_cached, _ = store.enqueue(configs, label=" ".join(sys.argv[1:]) or "cli")
    curve = {"auto": None, "on": True, "off": False}[args.curves]
    t0 = time.perf_counter()
    print(f"{len(configs)} runs: {n_cached} cached, {len(todo)} to train on {train.device_name(device)}", file=sys.stderr)
    if todo and train.device_type(device) == "cpu":
        from scaling.training import native

        print(f"CPU path: {native.cpu_path().describe()}", file=sys.stderr)
    # the bar counts training compute, not runs: a run of the widest width costs ~100 of the narrowest,
    # so the time left is only right when measured in FLOPs
    bar = tqdm(total=sum(c.flops for c in todo) / 1e9 or 1.0, file=sys.stderr, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} GFLOP [{elapsed}<{remaining}{postfix}]")

    def show(p):
        bar.set_postfix_str(f"trained {p.trained + p.failed}/{len(todo)}, cached {n_cached}", refresh=False)
        bar.update(min(sum(c.flops for c in p.last_stack) / 1e9, bar.total - bar.n))  # float sums in another order

    with bar:
        if (address := _ray_address(args)) is not False:
            from scaling.workers import cluster

            progress = cluster.work(store, address, ids, on_stack=show, curve=curve, wait=True, task_cpus=args.ray_task_cpus)
        else:
            progress = jobs.work(store, device, ids, on_stack=show, curve=curve, wait=True)
    by_other = len(todo) - progress.trained - progress.failed
    print(f"trained {progress.trained} runs, {n_cached} cached"
          + (f", {by_other} trained by another worker" if by_other > 0 else "")
          + (f", {progress.failed} failed (see `scaling runs --all`)" if progress.failed else "")
          + f" in {fmt_s(time.perf_counter() - t0)}")
    return 1 if progress.failed else 0


def _grid(args, lr_mults: str, limit: int) -> list:
    from scaling.core.arch import ARCHS
    from scaling.core.config import with_pretraining

    pre = grid.digits("--pretrain-classes", args.pretrain_classes)
    pre_fraction = grid.fractions("--pretrain-fraction", args.pretrain_fraction)
    if len(pre_fraction) != 1:
        raise grid.GridError("--pretrain-fraction: one fraction")
    if not pre and (pre_fraction[0] != 1 or args.pretrain_epochs != 1):
        raise grid.GridError("--pretrain-fraction and --pretrain-epochs need --pretrain-classes")
    configs = grid.expand(
        grid.width_steps("--widths", args.widths, max_len=limit),
        grid.fractions("--fractions", args.fractions),
        grid.int_steps("--seeds", args.seeds, 0, 2**31 - 1, max_len=limit),
        grid.floats("--dropout", args.dropout, 0, 1, hi_open=True),
        grid.floats("--lr-mult", lr_mults, 1e-6, 1e6),
        max_runs=limit, label_noises=grid.floats("--label-noise", args.label_noise, 0, 1, hi_open=True),
        archs=grid.strings("--arch", args.arch, ARCHS), lr_rule=args.lr_rule, dataset=args.dataset,
        epochs=args.epochs, batch_size=args.batch_size, classes=grid.digits("--classes", args.classes),
        pretrain_classes=pre, pretrain_fraction=pre_fraction[0], pretrain_epochs=args.pretrain_epochs,
    )
    return with_pretraining(configs)


def _bracket(store: Store, args, precision: str, limit: int) -> list:
    """The bracketing runs of each dropout's family (see services.bracket), printed with the reasons."""
    runs, curves = store.runs(status=None), store.curves()
    configs = []
    for d in grid.floats("--dropout", args.dropout, 0, 1, hi_open=True):
        sel = services.Selection(dataset=args.dataset, dropout=d, lr_rule=args.lr_rule, epochs=args.epochs,
                              batch_size=args.batch_size, precision=precision)
        try:
            an = services.analysis(runs, curves, sel)
        except services.SelectionError as e:
            raise ValueError(f"--bracket: nothing to bracket for {services.describe_family(sel.family)}: {e}") from None
        b = services.bracket(runs, sel, an.nopt)
        name = services.describe_family(sel.family)
        for line in b.why + b.limit:
            print(f"{name}: {line}", file=sys.stderr)
        if b.empty:
            print(f"{name}: " + ("nothing inside the grid's bounds would help" if b.limit else
                                 "every N_opt estimator answers: nothing to bracket"), file=sys.stderr)
        else:
            print(f"{name}: adding {b.describe()}: {len(b.configs)} runs", file=sys.stderr)
        configs += b.configs
    if len(configs) > limit:
        raise grid.GridError(f"--bracket: {len(configs)} runs, over the limit of {limit} per request (--max-runs)")
    return configs


def _table(args, all_status=True):
    return read_store(args.db).runs(status=None if all_status else "ok")[EXPORT_COLUMNS]


def runs(args) -> int:
    df = _table(args, all_status=args.all or args.json)
    if args.json:
        print(df.to_json(orient="records", double_precision=15))
        return 0
    stale = services.n_stale(df)
    if not args.all:
        df = services.current(df)
    if df.empty and not stale:
        print("no cached runs: start with `scaling sweep --dry-run`")
        return 0
    cols = ["width_step", "width", "dropout", "data_fraction", "seed", "lr_mult", "params", "examples", "flops",
            "val_loss", "val_acc", "precision", "status"] + (["protocol"] if args.all else [])
    if len(df):
        table = df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")
        print("\n".join(map(printable, table.splitlines())))
    imported = df["imported_from"].dropna().value_counts()
    for source, n in imported.items():  # a file's label: its escape codes are shown, never obeyed
        print(f"{n} of them imported, not trained here: {printable(source)}")
    if stale:
        from scaling.core.config import PROTOCOL

        print(f"{stale} stale run{'s' * (stale != 1)} of an older protocol (not {PROTOCOL}): kept, never fitted"
              + ("" if args.all else "; `scaling runs --all` lists them")
              + "; a sweep of the same grid trains them again under the current one")
    return 0


def export(args) -> int:
    store = read_store(args.db)
    check_not_the_database(args.output, store.path)
    if args.format == "csv":
        df = store.runs(status=None)[EXPORT_COLUMNS]
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        data = buf.getvalue().encode()
        what = f"{len(df)} runs"
    else:
        out = services.export_bytes(store, label=args.label, command=args.command)
        data, meta = out.data, out.meta
        what = f"{out.runs} runs with {out.curve_points} curve points (written on {meta['processor']}, {meta['cpu']})"
    write_file(args.output, data)  # all or nothing: a failed write leaves the old file as it was
    print(printable(f"wrote {what} to {args.output}"), file=sys.stderr)
    return 0


def import_(args) -> int:
    """Checks the whole file first (a file that is not a valid export is refused, nothing written),
    then writes its new runs in one transaction; duplicates and conflicts keep the cached run."""
    from scaling.store import exchange

    exp = exchange.read(args.file)
    store = Store(args.db)
    res = store.import_runs(exp.runs, exp.curves, source=exp.source(args.file))
    print(printable(f"imported {res.added} runs with {res.curve_points} curve points from {args.file} "
                    f"({exp.processor}; {exp.meta.get('git_commit') or 'commit unknown'}) into {store.path}; "
                    f"{res.duplicates} already cached (duplicates, skipped)"
                    + (f"; {res.dequeued} no longer queued" if res.dequeued else "")))  # the file's words, not obeyed
    if res.conflicts:
        n = len(res.conflicts)
        print(f"{n} conflict{'s' * (n != 1)}: cached here with other results; the cached run{'s' * (n != 1)} "
              "kept, the file's skipped:", file=sys.stderr)
        for c in res.conflicts[:5]:
            print(printable(f"  run {c.run_id}: {c.field} {c.cached!r} here, {c.imported!r} in the file"), file=sys.stderr)
        if n > 5:
            print(f"  ... and {n - 5} more", file=sys.stderr)
    return 1 if res.conflicts else 0


def fit(args) -> int:
    from scaling import fit as fitting

    if args.csv:
        import pandas as pd

        try:
            table = pd.read_csv(args.csv)
        except (OSError, ValueError) as e:
            raise ValueError(f"--csv {args.csv}: {e}") from None
        if table.empty:
            raise ValueError(f"--csv {args.csv}: no rows (a header only?)")
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
    runs_df = services.current(all_runs)
    runs_df = runs_df[runs_df.dataset == args.dataset]
    if runs_df.empty:
        stale = services.n_stale(all_runs)
        raise ValueError(f"no cached {args.dataset} runs of the current protocol in {store.path}"
                         + (f" ({stale} stale runs of an older one are never fitted)" if stale else "")
                         + ": run `scaling sweep` first")
    family = {}
    for name, flag in (("dropout", "--dropout"), ("lr_rule", "--lr-rule"), ("epochs", "--epochs"),
                       ("batch_size", "--batch-size"), ("precision", "--precision"), ("arch", "--arch"),
                       ("label_noise", "--label-noise"), ("classes", "--classes"),
                       ("pretrain_classes", "--pretrain-classes"), ("pretrain_fraction", "--pretrain-fraction"),
                       ("pretrain_epochs", "--pretrain-epochs")):
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
    curves = store.curves()
    curves = curves[curves.run_id.isin(runs_df.run_id)]
    lr = "tuned" if args.lr == "tuned" else float(args.lr)
    result = fitting.analyze(runs_df, curves, lr=lr, irreducible=args.irreducible, n_boot=args.bootstrap,
                             seed=args.seed)
    family = {"dataset": args.dataset, **family}
    bt = fitting.backtest(runs_df, octaves=args.backtest, lr=lr) if args.backtest is not None else None
    if args.json:
        print(json.dumps({"family": family, **result.to_dict(), **({"backtest": bt.to_dict()} if bt else {})}))
    else:
        others = len(services.current(all_runs).drop_duplicates(services.FAMILY)) - 1
        print(f"family: {services.describe_family(family)}"
              + (f" ({others} other families cached: choose with --dropout, --lr-rule, --epochs, --batch-size, "
                 "--precision, --arch, --label-noise, --classes, --pretrain-*)" if others > 0 else ""))
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


def worker(args) -> int:
    from scaling.workers import jobs
    from scaling.training import train

    if not 0 <= args.nice <= 19:
        raise ValueError(f"--nice {args.nice}: must be 0..19")
    if args.nice:
        os.nice(args.nice)

    address = _ray_address(args)
    ray = None if address is False else {"address": address, "task_cpus": args.ray_task_cpus}
    jobs.serve(Store(args.db), train.resolve_device(args.device), idle_exit_s=args.idle_exit, ray=ray)
    return 0


def doctor(args) -> int:
    """Which path trains here and why, so that a figure measured on one processor is never taken
    for another's."""
    from dataclasses import asdict

    import torch

    from scaling.training import native, train
    from scaling.services.device import device_info

    info = device_info()
    path = native.cpu_path()  # times the kernels against the ops on first use (a few seconds)
    builds = {}
    for isa in native.ISAS:
        runnable = isa in native.runnable_isas()
        dll = native.lib(isa) if runnable and path.how != "off" else None
        builds[isa] = {"vector_width": native.ISAS[isa][0], "runnable": runnable,
                       "library": str(dll.path) if dll is not None else None}
    report = {
        "processor": info.name if info.device == "cpu" else native.processor_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "compiler": native.compiler_version(),
        "builds": builds,
        "cpu_path": {"isa": path.isa, "how": path.how, "line": path.describe(),
                     "timings": [dict(asdict(t), best=t.best) for t in path.timings]},
        "training_device": train.device_name(info.device),
        # the C kernels are the CNN's convolutions (and its Adam); the MLP is batched matmuls throughout
        "mlp_path": "the PyTorch ops (batched matmuls and foreach Adam) on every device",
        "precision": info.precision,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"processor      {report['processor']} (torch sees {report['cpu_capability']}, {report['threads']} threads)")
    print(f"torch          {report['torch']}")
    print(f"compiler       {report['compiler'] or 'none found'}")
    for isa, b in builds.items():
        state = b["library"] or ("runs here, not built" if b["runnable"] else "this processor cannot run it")
        print(f"build {isa:9s}{b['vector_width']:2d} floats a vector: {state}")
    print(f"CPU path       {path.describe()}")
    for t in sorted(path.timings, key=lambda t: (t.phase, t.width)):
        print(f"  {'training step' if t.phase == 'train' else 'evaluation':13s} width {t.width:3d}: "
              f"{t.kernels_s * 1e3:7.1f} ms all in C, {t.onednn_s * 1e3:7.1f} ms with conv2 on oneDNN, "
              f"{t.ops_s * 1e3:7.1f} ms on the ops: {t.best} ({t.speedup:.2f}x the ops)")
    print(f"trains on      {report['training_device']}, {report['precision']}")
    print(f"MLP family     {report['mlp_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
