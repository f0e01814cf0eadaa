#!/bin/bash
# Every compare.py scenario against the anchors and chat, plain-text and JSON receivers.
# Usage: [DENO=path/to/deno] docs/bench/run_compare.sh OUTPREFIX [anchors]
# Needs ../shared/bench beside the checkout, gcc, and redis-server for the Redis anchor.
ulimit -n 20000
P=$1; A=${2-seed,redis}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=${DENO:-deno}
# The V8 heap settings the deno.json tasks and the compiled executable use
# (docs/performance.md, "Memory"); V8FLAGS= runs without them.
V8=${V8FLAGS---v8-flags=--max-semi-space-size=2,--heap-growing-percent=20}
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
CMD="$D run -A $V8 $ROOT/main.ts server --port {port} --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet --db :memory:"
python3 "$BENCH/compare.py" --anchors "$A" --target "chat-text=$CMD" --hello 'u{i}' --say '{text}' --json > "${P}-text.json"
python3 "$BENCH/compare.py" --anchors "$A" --target "chat-json=$CMD" --hello '{"type":"hello","version":1,"nick":"u{i}"}' --say '{"type":"say","text":"{text}"}' --json > "${P}-json.json"
