#!/usr/bin/env bash
# Progressive shrinking (docs/supernet.md, "Does progressive shrinking raise tau?"): the `base`
# configuration with 5 epochs, the first three shrinking, trained with --train-seed SEED, scored
# against the 23 Nov scratch results; then the read-out over the finished trainings.
# Usage: benchmarks/supernet_shrinking.sh CORE SEED [SEED ...]   (each phase resumes when re-run)
set -euo pipefail
STUDY=supernet_shrinking VARIANT=ps exec "$(dirname "$0")/supernet_seeds.sh" "$@" -- --epochs 5 \
  --shrinking '[[], [kernel, depth], [kernel, depth, expansion, width]]'
