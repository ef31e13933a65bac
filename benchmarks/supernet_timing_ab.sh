#!/bin/sh
# Seconds per supernet candidate with tf.data's autotuner on (OLD: a worktree at the commit before
# 4eb2416) and off (this checkout), interleaved OLD NEW OLD NEW ..., each a fresh process pinned to
# CORE, scoring the 24 subnets of the ranking benchmark with the `base` supernet.
# Usage: benchmarks/supernet_timing_ab.sh OLD_WORKTREE CORE ROUNDS  (docs/supernet.md)
set -eu
old=$(cd "$1" && pwd); core=$2; rounds=$3
new=$(pwd)
supernet=$new/runs/benchmarks/supernet_knobs/base/supernet
scratch=$new/benchmarks/results/supernet_ranking.json
out=$new/benchmarks/results/supernet_timing_ab
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for variant in old new; do
    tree=$old; [ "$variant" = new ] && tree=$new
    work=$new/runs/benchmarks/supernet_timing_ab/${variant}_r$round
    rm -rf "$work"; mkdir -p "$work"; ln -s "$supernet" "$work/supernet"
    (cd "$tree" && taskset -c "$core" "$new/.venv/bin/python" -m benchmarks.supernet_ranking \
      --phase inherit,report --work-dir "$work" --out "$out/${variant}_r$round.json" --scratch-from "$scratch")
  done
done
