import socket, sys, time, subprocess, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
time.sleep(0.5); before = rss()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port)); socks.append(s)
time.sleep(2); after = rss()
print(f"before {before} KiB after {after} KiB  per conn {(after-before)/n:.2f} KiB")
