#!/usr/bin/env python3
"""peers.py (../shared/bench/peers) with two additions, for A/B runs in one go:

- a second chat checkout: CHAT_BEFORE=/path/to/other/checkout adds the servers
  `chat-text-before` and `chat-json-before` (and `-sqlite` variants), run
  exactly like `chat-text`/`chat-json` but from that directory, interleaved in
  the same rounds;
- the servers `floor-deno` and `floor-node` (docs/bench/floor_server.ts: the least a Deno
  broadcaster with rooms can do) in the rooms scenarios and idle-nochan, for the runtime's floor,
  and `floor-deno-1mib`/`floor-node-1mib` (the same, dropping a receiver with over 1 MiB waiting,
  as chat does) in slow;
- the scenario `rooms10k`: 10,000 clients in 100 rooms (client i in room
  i mod 100), 100 senders (one per room) at 10 msg/s for 10 s, connects paced
  as in `rooms`. IRC servers register and JOIN their room, as in `rooms`.

Usage (from the chat checkout; the same arguments as peers.py):

  CHAT_BEFORE=/tmp/perf-before python3 docs/bench/peers_ab.py run --rounds 3 \\
      --out /tmp/ab.jsonl --scenarios rooms --servers chat-text,chat-text-before,inspircd,ngircd
  python3 docs/bench/peers_ab.py summary /tmp/ab.jsonl

Set CHATBENCH (a chatbench binary, `gcc -O2 -o chatbench ../shared/bench/chatbench.c`),
DENO, and `ulimit -n 20000` first; docs/bench/run_peers_ab.sh does all that.
"""
import importlib.util
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.environ.get("PEERS_DIR") or os.path.join(HERE, "..", "..", "..", "shared", "bench",
                                                        "peers")
spec = importlib.util.spec_from_file_location("peers", os.path.join(PEERS_DIR, "peers.py"))
peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peers)

# 10,000 clients in 100 rooms, 100 senders x 10 msg/s (100k deliveries/s), paced connects.
peers.SCENARIOS["rooms10k"] = ["--clients", "10000", "--senders", "100", "--messages", "100",
                               "--rate", "10", "--size", "64", "--rooms", "100",
                               "--timeout", "90"] + peers.PACED
peers.METRICS["rooms10k"] = peers.METRICS["rooms"] + [
    ("alive", "alive", 1, "{:.0f}", False), ("server peak RSS MiB", "rss_peak_kb", 1 / 1024,
                                             "{:.0f}", False)]


def as_rooms(proto):
    """The protocol of `rooms` for `rooms10k` (join room {r}, say to it)."""
    return lambda sc: proto("rooms" if sc == "rooms10k" else sc)


for name, (setup, proto) in list(peers.SERVERS.items()):
    peers.SERVERS[name] = (setup, as_rooms(proto))

# Room-creation quotas off, like flood control and the per-address caps: every bench client comes
# from 127.0.0.1, and one address may create 30 rooms at once by default (rooms10k needs 100).
peers.CHAT_CMD += " --room-quota 0"

BEFORE = os.environ.get("CHAT_BEFORE")
if BEFORE:
    def before_setup(db):
        def setup(port, d):
            dbpath = ":memory:" if db == "memory" else os.path.join(d, "chat.db")
            return shlex.split(peers.CHAT_CMD.format(port=port, db=dbpath)), BEFORE
        return setup

    for name in ("chat-text", "chat-json", "chat-text-sqlite", "chat-json-sqlite"):
        db = "file" if name.endswith("sqlite") else "memory"
        peers.SERVERS[name + "-before"] = (before_setup(db), peers.SERVERS[name][1])
    for sc, servers in peers.PLAN.items():
        for name in list(servers):
            if name + "-before" in peers.SERVERS:
                servers.append(name + "-before")

# The runtime's floor for the rooms scenarios: docs/bench/floor_server.ts, a bare Deno line
# broadcaster with rooms (`/join #name`), over conn.write and over node:net.
def floor_setup(api, limit=0):
    def setup(port, d):
        return shlex.split(f"{peers.DENO} run {peers.V8} -A {os.path.join(HERE, 'floor_server.ts')} "
                           f"{port} {api} {limit}"), d
    return setup


for api in ("deno", "node"):
    peers.SERVERS["floor-" + api] = (floor_setup(api), as_rooms(peers.chat_text_proto))
    peers.PLAN["rooms"].append("floor-" + api)
    peers.PLAN["idle-nochan"].append("floor-" + api)
    # slow: the same floor dropping a receiver past 1 MiB waiting, as chat's default send queue
    peers.SERVERS["floor-" + api + "-1mib"] = (floor_setup(api, 1 << 20), peers.chat_text_proto)
    peers.PLAN["slow"].append("floor-" + api + "-1mib")

# slow: the target is the server's RSS growth during the run (peak minus the RSS before sending)
_run_one = peers.run_one


def run_one(server, scenario, keep_log=None):
    res = _run_one(server, scenario, keep_log)
    if isinstance(res.get("rss_peak_kb"), int) and isinstance(res.get("rss_before_kb"), int):
        res["rss_growth_kb"] = res["rss_peak_kb"] - res["rss_before_kb"]
    return res


peers.run_one = run_one
peers.METRICS["slow"] = peers.METRICS["slow"] + [
    ("RSS growth MiB", "rss_growth_kb", 1 / 1024, "{:.1f}", True)]

peers.PLAN["rooms10k"] = [s for s in peers.PLAN["rooms"] if s != "chat-text-nolobby"]

if __name__ == "__main__":
    sys.argv[0] = "peers_ab.py"
    peers.main()
