#!/bin/bash
# The compare.py latency scenario, ROUNDS times per wire format, side by side in each round: Redis,
# chat, and the floor (docs/bench/floor_server.ts, a bare Deno line broadcaster, over conn.write and
# over node:net). One JSON line per server per round, then the median p50/p99 of each.
# Usage: [DENO=path/to/deno] docs/bench/run_latency.sh OUT.jsonl [ROUNDS]
# Needs ../shared/bench beside the checkout, gcc, and redis-server.
ulimit -n 20000
OUT=$1; ROUNDS=${2:-8}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=${DENO:-deno}
V8=${V8FLAGS---v8-flags=--max-semi-space-size=2,--heap-growing-percent=20}
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
CMD="$D run -A $V8 $ROOT/main.ts server --port {port} --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet --db :memory:"
FLOOR="$D run -A $V8 $ROOT/docs/bench/floor_server.ts {port}"
: > "$OUT"
for mode in text json; do
  if [ "$mode" = json ]; then
    H='{"type":"hello","version":1,"nick":"u{i}"}'
    S='{"type":"say","text":"{text}"}'
  else
    H='u{i}'
    S='{text}'
  fi
  for round in $(seq "$ROUNDS"); do
    python3 "$BENCH/compare.py" --anchors redis --scenarios latency --target "chat=$CMD" \
      --target "floor-deno=$FLOOR deno" --target "floor-node=$FLOOR node" --hello "$H" --say "$S" --json |
      python3 -c '
import json, sys
for server, r in json.load(sys.stdin).items():
    # the wire format replaces the "mode" field chatbench fills in (rate or blast)
    print(json.dumps({**r["latency"], "mode": sys.argv[1], "round": int(sys.argv[2]), "server": server}))
' "$mode" "$round" | tee -a "$OUT"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for mode in ("text", "json"):
    for server in ("redis", "chat", "floor-deno", "floor-node"):
        r = [x for x in rows if x["mode"] == mode and x["server"] == server and "p99_ms" in x]
        if r:
            p50 = statistics.median(x["p50_ms"] for x in r)
            p99 = statistics.median(x["p99_ms"] for x in r)
            span = f'{min(x["p99_ms"] for x in r):.2f}-{max(x["p99_ms"] for x in r):.2f}'
            print(f"{mode:4} {server:10} runs={len(r)} median p50={p50:.2f} ms, p99={p99:.2f} ms (p99 range {span})")
PY
