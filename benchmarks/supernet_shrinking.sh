#!/usr/bin/env bash
# Progressive shrinking (docs/supernet.md, "Does progressive shrinking raise tau?"): the `base`
# configuration with 5 epochs, the first three shrinking, trained with --train-seed SEED, scored
# against the 23 Nov scratch results; then the read-out over the finished trainings.
# Usage: benchmarks/supernet_shrinking.sh CORE SEED [SEED ...]   (each phase resumes when re-run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
W=runs/benchmarks/supernet_shrinking
R=benchmarks/results/supernet_shrinking
SCRATCH=benchmarks/results/supernet_ranking.json
PHASES='[[], [kernel, depth], [kernel, depth, expansion, width]]'
if [ $# -lt 2 ]; then
  echo "usage: $0 CORE SEED [SEED ...]" >&2
  exit 2
fi
core=$1; shift
mkdir -p "$W" "$R"
for seed in "$@"; do
  taskset -c "$core" "$PY" -m benchmarks.supernet_ranking --phase supernet,inherit,report --epochs 5 \
    --shrinking "$PHASES" --train-seed "$seed" --work-dir "$W/ps_s$seed" --out "$R/ps_s$seed.json" \
    --scratch-from "$SCRATCH"
done
"$PY" -m benchmarks.supernet_knobs --results "$R" --out benchmarks/results/supernet_shrinking.json --seeds
