#!/bin/bash
# Deliveries/s (blast) and p99 at a fixed ~200k deliveries/s (rate) against client count,
# with shared/bench/chatbench.c, both wire formats.
# Usage: [DENO=path/to/deno] [SIZES="100 1000 10000"] docs/bench/run_scaling.sh OUT.jsonl
ulimit -n 20000
OUT=$1; : > "$OUT"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=${DENO:-deno}
# The V8 heap settings the deno.json tasks and the compiled executable use
# (docs/performance.md, "Memory"); V8FLAGS= runs without them.
V8=${V8FLAGS---v8-flags=--max-semi-space-size=2,--heap-growing-percent=20}
SIZES=${SIZES:-100 1000 10000}
B=${CHATBENCH:-/tmp/chatbench}
PORT=9931
for mode in text json; do
  if [ $mode = text ]; then P=(--hello 'u{i}' --say '{text}')
  else P=(--hello '{"type":"hello","version":1,"nick":"u{i}"}' --say '{"type":"say","text":"{text}"}'); fi
  for n in $SIZES; do
    settle=$(( n < 1000 ? 1000 : n * 3 ))
    case $n in 100) rate=100; bm=2000;; 1000) rate=20; bm=200;; 10000) rate=2; bm=20;; esac
    for kind in blast rate; do
      $D run -A $V8 "$ROOT/main.ts" server --port $PORT --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet --db :memory: >/dev/null 2>&1 &
      S=$!; sleep 1.5
      if [ $kind = blast ]; then X=(--messages $bm); else X=(--messages $((rate * 10)) --rate $rate); fi
      r=$($B --port $PORT --clients $n --senders 10 --size 64 --settle $settle --timeout 120 --pid $S "${X[@]}" "${P[@]}" | tail -1)
      echo "{\"target\":\"chat-$mode\",\"clients\":$n,\"kind\":\"$kind\",\"result\":$r}" | tee -a "$OUT"
      kill $S; wait $S 2>/dev/null; PORT=$((PORT + 1))
    done
  done
done
