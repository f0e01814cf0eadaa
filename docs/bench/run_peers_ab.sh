#!/bin/bash
# peers.py through docs/bench/peers_ab.py: chat (this checkout, and CHAT_BEFORE's if set) beside
# Redis, ngIRCd and InspIRCd in the same interleaved rounds, incl. the rooms and rooms10k scenarios.
# Prints `uptime` before and after, so the tables can say how loaded the machine was.
# Usage: [DENO=…] [CHAT_BEFORE=/tmp/perf-before] docs/bench/run_peers_ab.sh OUT.jsonl ROUNDS [peers.py run args]
#   e.g. docs/bench/run_peers_ab.sh /tmp/ab.jsonl 3 --scenarios rooms --servers chat-text,chat-text-before,inspircd,ngircd
# Needs ../shared/bench beside the checkout, gcc, and the Debian packages ngircd, inspircd, redis-server.
set -euo pipefail
OUT=$1; ROUNDS=$2; shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_DIR:-${TMPDIR:-/tmp}/bench-peers-build}
mkdir -p "$BUILD"
gcc -O2 -o "$BUILD/chatbench" "$ROOT/../shared/bench/chatbench.c"
ulimit -n "$(ulimit -Hn)"  # 10,000 clients: chatbench and the server each need ~10k descriptors
export CHATBENCH=$BUILD/chatbench BUILD_DIR=$BUILD CHAT_DIR=$ROOT
echo "before: $(uptime)"
python3 "$ROOT/docs/bench/peers_ab.py" run --rounds "$ROUNDS" --out "$OUT" "$@"
echo "after: $(uptime)"
python3 "$ROOT/docs/bench/peers_ab.py" summary "$OUT"
