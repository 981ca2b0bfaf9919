#!/usr/bin/env bash
# Everything this project checks on a lent GPU, in one call (the device machine keeps nothing):
# the CUDA tests, the exercise grid trained through the CLI exactly as a user would (curves on),
# widths 1-3 added (the GPU quick grid) and its fits with a backtest, and bf16 against fp32. Writes the database and logs to $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD"
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pytest -q -p no:cacheprovider tests/test_train.py tests/test_model.py 2>&1 | tail -3
DB=$OUT/gpu_runs.duckdb
/usr/bin/time -f "sweep wall %e s" python3 -m scaling sweep --widths 0:8 --fractions 1/128:1 --seeds 0:3 \
    --dropout 0,0.2 --db "$DB" --device cuda 2>&1 | tail -3
python3 -m scaling sweep --widths 0:8 --fractions 1/128:1 --seeds 0:3 --dropout 0,0.2 --db "$DB" --dry-run | tail -2
# widths 1-3 too (the GPU quick grid): do the envelope and IsoFLOP estimators then answer at both dropouts?
python3 -m scaling sweep --widths=-4:0 --fractions 1/128:1 --seeds 0:3 --dropout 0,0.2 --db "$DB" --device cuda 2>&1 | tail -1
for d in 0 0.2; do python3 -m scaling fit --db "$DB" --dropout $d --backtest > "$OUT/fit_dropout_$d.txt" 2>&1; cat "$OUT/fit_dropout_$d.txt"; done
python3 benchmarks/bf16_check.py --device cuda 2>&1 | tee "$OUT/bf16.txt"
