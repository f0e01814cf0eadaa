#!/bin/bash
# usage: docs/bench/run_compare.sh OUTPREFIX [anchors]
ulimit -n 20000
P=$1; A=${2-seed,redis}
D=/work/wt-perf/node_modules/.bin/deno
CMD="$D run -A /work/wt-perf/main.ts server --port {port} --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet"
python3 /work/shared/bench/compare.py --anchors "$A" --target "chat-text=$CMD" --hello 'u{i}' --say '{text}' --json > ${P}-text.json
python3 /work/shared/bench/compare.py --anchors "$A" --target "chat-json=$CMD" --hello '{"type":"hello","version":1,"nick":"u{i}"}' --say '{"type":"say","text":"{text}"}' --json > ${P}-json.json
