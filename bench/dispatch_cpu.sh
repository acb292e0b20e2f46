#!/bin/bash
# CPU per call of bench/dispatch_bench --only=N: the bench process (client and server) and Redis
# (scripts/infra's), from `perf stat` over 3 s of the measured part, divided by the calls made.
# Steadier than calls/s on a shared, loaded machine (docs/benchmarks.md, dispatcher).
#
#   eval "$(scripts/infra up)"
#   bench/dispatch_cpu.sh build/bench/dispatch_bench 1   # 1 CreateCall, 2 baseline, 3 refused
# Prints: only=N rate=… bench_us=… redis_us=… cs_per_call=…
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
B=$1
ONLY=$2
RP=$(cat "$ROOT/.parley/infra/redis/redis.pid")
ERR=$(mktemp)
OUT=$(mktemp)
S1=$(mktemp)
S2=$(mktemp)
trap 'rm -f "$ERR" "$OUT" "$S1" "$S2"' EXIT
"$B" --only="$ONLY" --seconds=5 2>"$ERR" >"$OUT" &
BP=$!
until grep -q start "$ERR" 2>/dev/null; do sleep 0.1; done
sleep 0.5
perf stat -x, -e task-clock,context-switches -p "$BP" -- sleep 3 2>"$S1" &
perf stat -x, -e task-clock,context-switches -p "$RP" -- sleep 3 2>"$S2"
wait
RATE=$(grep -o '"calls_per_s":[0-9]*' "$OUT" | cut -d: -f2)
BT=$(grep task-clock "$S1" | cut -d, -f1)
BC=$(grep context-switches "$S1" | cut -d, -f1)
RT=$(grep task-clock "$S2" | cut -d, -f1)
python3 -c "r = $RATE * 3; print('only=$ONLY rate=%d bench_us=%.1f redis_us=%.1f cs_per_call=%.1f' % ($RATE, $BT * 1000 / r, $RT * 1000 / r, $BC / r))"
