#!/usr/bin/env python3
"""chat's IRC gateway beside ngIRCd and InspIRCd: the shared bench kit's peers.py
(../shared/bench/peers) with one more server, `chat-irc` (chat with every client
on --irc-port, speaking the same IRC as the IRC peers). Run from the chat
checkout, with the kit's environment (run.sh builds chatbench into BUILD_DIR):

  BUILD_DIR=/tmp/bench-peers-build python3 docs/bench/irc_peers.py run --rounds 1 \
      --out /tmp/irc.jsonl --scenarios fanout,latency,rooms \
      --servers chat-text,chat-irc,ngircd,inspircd
  python3 docs/bench/irc_peers.py summary /tmp/irc.jsonl
"""
import importlib.util
import os
import shlex
import sys

KIT = os.environ.get("PEERS_DIR") or os.path.join(os.getcwd(), "..", "shared", "bench", "peers")
spec = importlib.util.spec_from_file_location("peers", os.path.join(KIT, "peers.py"))
peers = importlib.util.module_from_spec(spec)
sys.modules["peers"] = peers
spec.loader.exec_module(peers)

# The kit's chat command with the listeners chat has gained since (TLS, web, IRC) off, so runs never
# depend on their default ports being free.
peers.CHAT_CMD += " --tls-port 0 --http-port 0 --irc-port 0"
# The same, with the IRC gateway on the measured port, the chat port elsewhere and
# the other default listeners off.
IRC_CMD = (peers.DENO + " run " + peers.V8 + " -A main.ts server --host 127.0.0.1 --port {chat} "
           "--irc-port {port} --tls-port 0 --http-port 0 --flood-rate 0 --max-per-ip 0 "
           "--max-clients 0 --db :memory: --quiet")


def chat_irc_setup(port, d):
    return shlex.split(IRC_CMD.format(port=port, chat=peers.free_port())), peers.CHAT_DIR


peers.SERVERS["chat-irc"] = (chat_irc_setup, lambda sc: peers.irc_proto(sc))
for scenario in ("fanout", "latency", "rooms", "slow"):
    peers.PLAN[scenario].append("chat-irc")

if __name__ == "__main__":
    peers.main()
