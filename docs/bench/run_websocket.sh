#!/bin/bash
# WebSocket fan-out beside TCP text and JSON fan-out (docs/performance.md, "WebSocket fan-out
# beside TCP"): 3 rounds, each round TCP text, TCP JSON and WebSocket against one server, 100
# clients, 10 senders, blast, 64 B, 5 s. With BEFORE (a checkout of an earlier commit, whose web
# client had its own --http-port), the same rounds run against it too, alternating with this tree,
# and the same load generator (this tree's `chat bench`) measures both.
# Usage: [DENO=path/to/deno] [BEFORE=/path/to/old/checkout] docs/bench/run_websocket.sh OUTDIR
set -e
OUT=$1
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=${DENO:-deno}
V8=--v8-flags=--max-semi-space-size=2,--heap-growing-percent=20
FLAGS="--tls-port 0 --irc-port 0 --irc-tls-port 0 --https-port 0 --db :memory: --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet"
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; exit 1; }
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null' EXIT
# This tree: chat, page and WebSocket on one port.
$D run -A $V8 "$ROOT/main.ts" server --port 19080 --http-port 0 $FLAGS &
PIDS+=($!)
wait_port 19080
TARGETS=("after 19080 19080")
if [ -n "$BEFORE" ]; then
  $D run -A $V8 "$BEFORE/main.ts" server --port 19090 --http-port 19091 $FLAGS &
  PIDS+=($!)
  wait_port 19091
  TARGETS=("before 19090 19091" "${TARGETS[@]}")
fi
bench() { $D run -A $V8 "$ROOT/main.ts" bench 127.0.0.1 "$@" --clients 100 --senders 10 --blast --duration 5 --json; }
for r in 1 2 3; do
  for t in "${TARGETS[@]}"; do
    read -r label chat web <<< "$t"
    bench "$chat" --mode text > "$OUT/$label-tcp-text-$r.json"
    bench "$chat" --mode json > "$OUT/$label-tcp-json-$r.json"
    bench "$web" --ws > "$OUT/$label-ws-$r.json"
    echo "round $r $label: $(uptime)" | tee -a "$OUT/uptime.txt"
  done
done
