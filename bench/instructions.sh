#!/usr/bin/env bash
# Instructions per message for parse (+ classify) under callgrind: the steady yardstick for the
# classify benchmark, which wall-clock time on shared machines is not.
#   bench/instructions.sh [labelled|all] [full|parse] [count]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-labelled}; mode=${2:-full}; count=${3:-600}
count_ir() {
  PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    .venv/bin/python bench/classify_loop.py "$corpus" "$1" "$count" 2>&1 | awk '/Collected/ {print $4}'
}
setup=$(count_ir setup)
total=$(count_ir "$mode")
echo "$corpus $mode: $(( (total - setup) / count )) instructions per message ($count messages, os.cpu_count() $(nproc))"
