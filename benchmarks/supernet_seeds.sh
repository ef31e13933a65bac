#!/usr/bin/env bash
# Supernet seeds (docs/supernet.md, "Does tau reproduce?"): the `base` configuration trained with
# --train-seed 1, 2, 3 and scored against the 23 Nov scratch results, then the read-out.
# Usage: benchmarks/supernet_seeds.sh CORE SEED [SEED ...]   (each phase resumes when re-run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
W=runs/benchmarks/supernet_seeds
R=benchmarks/results/supernet_seeds
SCRATCH=benchmarks/results/supernet_ranking.json
if [ $# -lt 2 ]; then
  echo "usage: $0 CORE SEED [SEED ...]" >&2
  exit 2
fi
core=$1; shift
mkdir -p "$W" "$R"
for seed in "$@"; do
  taskset -c "$core" "$PY" -m benchmarks.supernet_ranking --phase supernet,inherit,report --epochs 4 \
    --train-seed "$seed" --work-dir "$W/base_s$seed" --out "$R/base_s$seed.json" --scratch-from "$SCRATCH"
done
"$PY" -m benchmarks.supernet_knobs --results "$R" --out benchmarks/results/supernet_seeds.json --seeds
