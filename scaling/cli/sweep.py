"""`scaling sweep` and `scaling worker`: queue a grid, train it here or on Ray."""
from __future__ import annotations

import sys
import time
from itertools import product

from scaling import services
from scaling.core import grid, settings
from scaling.core.fmt import fmt_flops, fmt_s
from scaling.store import Store


def _ray_address(args) -> str | None | bool:
    """False: no Ray; None: a local instance; else the address to join. `scaling worker` follows
    $SCALING_RAY_ADDRESS without the flag, so the app's worker trains where the host says."""
    from scaling.workers import cluster

    if args.ray is None and not (args.cmd == "worker" and settings.ray_address()):
        return False
    return cluster.address_from(args.ray)

def sweep(args) -> int:
    from tqdm import tqdm

    from scaling import datasets
    from scaling.training import devices  # torch loads only for commands that train
    from scaling.workers import jobs

    if args.lr_scan and args.lr_mult is not None:
        raise grid.GridError("--lr-scan: give it or --lr-mult, not both")
    lr_mults = ",".join(map(str, services.LR_SCAN)) if args.lr_scan else args.lr_mult or "1"
    limit = grid.run_limit() if args.max_runs is None else args.max_runs
    if limit < 1:
        raise grid.GridError(f"--max-runs: {limit} must be a positive integer")
    device = devices.resolve_device(args.device)
    store = Store(args.db)
    if args.bracket:
        configs = _bracket(store, args, devices.precision(device), limit)
        if not configs:
            return 0
    elif args.study:
        from scaling.core.config import with_pretraining

        configs = with_pretraining(services.studies.preset(args.study, devices.device_type(device)))
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
    print(f"{len(configs)} runs: {n_cached} cached, {len(todo)} to train on {devices.device_name(device)}", file=sys.stderr)
    if todo and devices.device_type(device) == "cpu":
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
    from scaling.core.config import LR_SCHEDULES, with_pretraining

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
        archs=grid.strings("--arch", args.arch, ARCHS), lr_schedules=grid.strings("--lr-schedule", args.lr_schedule,
                                                                              LR_SCHEDULES), lr_rule=args.lr_rule, dataset=args.dataset,
        epochs=args.epochs, batch_size=args.batch_size, classes=grid.digits("--classes", args.classes),
        pretrain_classes=pre, pretrain_fraction=pre_fraction[0], pretrain_epochs=args.pretrain_epochs,
    )
    return with_pretraining(configs)

def _bracket(store: Store, args, precision: str, limit: int) -> list:
    """The bracketing runs of each dropout's family (see services.bracket), printed with the reasons."""
    runs, curves = store.runs(status=None), store.curves()
    configs = []
    from scaling.core.config import LR_SCHEDULES

    for d, sched in product(grid.floats("--dropout", args.dropout, 0, 1, hi_open=True),
                            grid.strings("--lr-schedule", args.lr_schedule, LR_SCHEDULES)):
        sel = services.Selection(dataset=args.dataset, dropout=d, lr_rule=args.lr_rule, epochs=args.epochs,
                              batch_size=args.batch_size, precision=precision, lr_schedule=sched)
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


def worker(args) -> int:
    from scaling.training import devices
    from scaling.workers import jobs

    if not 0 <= args.nice <= 19:
        raise ValueError(f"--nice {args.nice}: must be 0..19")
    jobs.lower_priority(args.nice)

    address = _ray_address(args)
    ray = None if address is False else {"address": address, "task_cpus": args.ray_task_cpus}
    jobs.serve(Store(args.db), devices.resolve_device(args.device), idle_exit_s=args.idle_exit, ray=ray)
    return 0
