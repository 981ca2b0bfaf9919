"""The command line: every subcommand, its flags and their types."""
from __future__ import annotations

import argparse

from scaling import services
from scaling.cli import args as types
from scaling.cli.annotate import add_parsers as add_annotate
from scaling.cli.args import add_db as _add_db
from scaling.cli.args import add_ray as _add_ray
from scaling.cli.notebook import add_parser as add_notebook
from scaling.core import grid


def curve_forms() -> list[str]:
    from scaling.fit.curves import FORMS

    return list(FORMS)


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
    s.add_argument("--lr-schedule", default="constant", help="lr schedules, a list: constant, cosine (decays to zero "
                   "over each run's own steps); each is a run family of its own")
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
                   "on this device (noise, arch, transfer, bottleneck, schedule; the Studies page's), baselines included")
    s.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    _add_ray(s)
    _add_db(s)

    r = sub.add_parser("runs", help="list cached runs")
    r.add_argument("--json", action="store_true")
    r.add_argument("--all", action="store_true", help="include diverged, failed and stale (older protocol) runs")
    _add_db(r)
    add_annotate(r)

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
    f.add_argument("--lr-schedule", choices=["constant", "cosine"], help="the family's lr schedule (default: constant "
                   "where cached)")
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
    f.add_argument("--compute", choices=["3fd", "6nd"], default="3fd",
                   help="how training compute is counted: 3fd, 3 x forward FLOPs x D (this project's); 6nd, 6 N D "
                        "(Kaplan's and Chinchilla's)")
    law = f.add_mutually_exclusive_group()
    law.add_argument("--irreducible", action="store_true",
                     help="fit L(C) = E + A C^-alpha (default: the form and fitting loss the backtest favours)")
    law.add_argument("--pure", action="store_true", help="fit L(C) = A C^-alpha (default: the backtest's choice)")
    f.add_argument("--bootstrap", type=types.bootstrap, default=200,
                   help=f"bootstrap resamples for the intervals (0: none; at most {types.MAX_BOOTSTRAP})")
    f.add_argument("--seed", type=types.seed, default=0, help="bootstrap seed")
    f.add_argument("--backtest", nargs="?", type=types.octaves, const=2.0, metavar="OCTAVES",
                   help="also fit each law below the top OCTAVES (default 2) octaves of compute and score its "
                        "prediction of the held-out frontier (RMS log error, mean absolute error)")
    f.add_argument("--study", choices=list(services.studies.STUDIES), help="answer one study instead (noise: the data exponent "
                   "per label noise; arch: the frontier per architecture; transfer: D_T = k D_F^alpha N^beta; "
                   "bottleneck: where N stops helping per D; schedule: a, alpha_C and the seed noise, constant/untuned against "
                   "cosine/tuned), on every cached run it needs")
    f.add_argument("--csv", help="fit this table instead of the cache")
    f.add_argument("--n-col"), f.add_argument("--d-col"), f.add_argument("--c-col"), f.add_argument("--loss-col")
    f.add_argument("--drop-highest", type=types.count, default=0, help="drop the K highest-loss rows first (--csv)")
    f.add_argument("--json", action="store_true")
    _add_db(f)

    add_notebook(sub, like=f)
    pl = sub.add_parser("plan", help="the runs that narrow an answer's 95% interval most for a budget (simulated from "
                        "the fit at the measured seed noise); --queue trains them, predictions written down first")
    pl.add_argument("--budget", required=True, help="FLOPs (2e13) or time on this device (10m, 90s, 1h: the time model)")
    pl.add_argument("--target", default="a", help="a (N_opt exponent, as the verdict answers it), alpha_C, alpha, beta, "
                    "or loss@C (the frontier's loss at C FLOPs)")
    pl.add_argument("--dataset", default="mnist")
    pl.add_argument("--dropout", type=float, help="the run family's dropout (default: the lowest most common cached)")
    pl.add_argument("--bootstrap", type=types.bootstrap, default=60, help="resamples behind the interval now")
    pl.add_argument("--sims", type=types.count, default=services.planner.N_SIM,
                    help="simulated data sets per design weighed (more: steadier, slower)")
    pl.add_argument("--seed", type=types.seed, default=0)
    pl.add_argument("--hedge", action="store_true", help="where the verdict believes the parametric form, plan for the "
                    "form-free pair too (half each): steadier where the form is wrong, half as sharp where it is right")
    pl.add_argument("--queue", action="store_true", help="queue the runs (a worker trains them) after writing down "
                    "each one's predicted loss and the target's expected interval")
    pl.add_argument("--device", default="auto", help="the worker's device with --queue")
    pl.add_argument("--json", action="store_true")
    _add_db(pl)

    c = sub.add_parser("curve", help="fit and extrapolate learning curves from a CSV, one per group, each with the "
                       "form its own backtest picks")
    c.add_argument("--csv", required=True, help="a table with one row per point of a curve")
    c.add_argument("--x-col", required=True, help="the column of x: examples, tokens, steps, parameters or compute")
    c.add_argument("--loss-col", required=True, help="the column of the loss (positive)")
    c.add_argument("--group", default="", help="columns that name a curve, comma-separated (default: one curve)")
    c.add_argument("--train-col", default=None, help="a column of 1 (fit) and 0 (held out and predicted)")
    c.add_argument("--form", default="auto", choices=["auto", *curve_forms()],
                   help="the form, or auto: the one whose backtest on the top of the curve scores best")
    c.add_argument("--json", action="store_true")

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
