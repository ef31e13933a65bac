#!/usr/bin/env bash
# Trainings of one supernet configuration over several seeds (docs/supernet.md, "Does tau reproduce?"),
# each scored against the 23 Nov scratch results, then the read-out over the finished trainings.
# Usage: benchmarks/supernet_seeds.sh CORE SEED [SEED ...] [-- EXTRA benchmarks.supernet_ranking FLAGS]
# STUDY (default supernet_seeds) names the work folder, the results folder and the read-out; VARIANT
# (default base) prefixes each training's name. Each phase resumes when re-run. Without EXTRA FLAGS the
# training is `base` (benchmarks.supernet_ranking's defaults: 4 epochs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STUDY=${STUDY:-supernet_seeds}
VARIANT=${VARIANT:-base}
W=runs/benchmarks/$STUDY
R=benchmarks/results/$STUDY
SCRATCH=benchmarks/results/supernet_ranking.json
if [ $# -lt 2 ]; then
  echo "usage: $0 CORE SEED [SEED ...] [-- EXTRA FLAGS]" >&2
  exit 2
fi
core=$1; shift
seeds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift
if [ ${#seeds[@]} -eq 0 ]; then
  echo "usage: $0 CORE SEED [SEED ...] [-- EXTRA FLAGS]" >&2
  exit 2
fi
mkdir -p "$W" "$R"
for seed in "${seeds[@]}"; do
  taskset -c "$core" "$PY" -m benchmarks.supernet_ranking --phase supernet,inherit,report "$@" \
    --train-seed "$seed" --work-dir "$W/${VARIANT}_s$seed" --out "$R/${VARIANT}_s$seed.json" --scratch-from "$SCRATCH"
done
"$PY" -m benchmarks.supernet_knobs --results "$R" --out "benchmarks/results/$STUDY.json" --seeds
