#!/usr/bin/env bash
# Supernet knob experiments (docs/supernet.md, "What moves tau"): base / nodistill on core 1, e8 on core 0,
# then the BatchNorm-2000 rescoring of base and e8, then the read-out. Every phase resumes when re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
W=runs/benchmarks/supernet_knobs
R=benchmarks/results/supernet_knobs
SCRATCH=benchmarks/results/supernet_ranking.json
mkdir -p "$W" "$R"
run() {  # core variant extra-args...
  local core=$1 name=$2; shift 2
  taskset -c "$core" "$PY" -m benchmarks.supernet_ranking --phase supernet,inherit,report --work-dir "$W/$name" \
    --out "$R/$name.json" --scratch-from "$SCRATCH" "$@"
}
rescore() {  # core variant-from bn-images
  local core=$1 from=$2 bn=$3 name="$2_bn$3"
  mkdir -p "$W/$name"
  ln -sfn "../$from/supernet" "$W/$name/supernet"
  taskset -c "$core" "$PY" -m benchmarks.supernet_ranking --phase inherit,report --work-dir "$W/$name" \
    --out "$R/$name.json" --scratch-from "$SCRATCH" --bn-images "$bn"
}
( run 1 nodistill --epochs 4 --no-distillation && run 1 base --epochs 4 && rescore 1 base 2000 ) &
( run 0 e8 --epochs 8 && rescore 0 e8 2000 ) &
wait
