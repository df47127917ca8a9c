#!/usr/bin/python3
"""pywinrm 0.3.0 side of bench/ntlm-winrm.ts (transport='ntlm', message_encryption='always').
usage: ntlm_pywinrm.py throughput|conns URL DOMAIN\\user N   (password on stdin) -> one JSON line
"""
import sys, time, json
import winrm

mode, url, user, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pw = sys.stdin.readline().rstrip("\n")
if mode == "throughput":
    p = winrm.Session(url, auth=(user, pw), transport="ntlm", message_encryption="always").protocol
    sh = p.open_shell()
    t = time.perf_counter()
    cid = p.run_command(sh, "sh", ["-c", "\"head -c %d /dev/zero | tr '\\0' 'x'\"" % n])
    out, err, code = p.get_command_output(sh, cid)
    dt = time.perf_counter() - t
    p.cleanup_command(sh, cid)
    p.close_shell(sh)
    assert len(out) == n, (len(out), err)
    print(json.dumps({"mbps": n / 1048576 / dt}))
else:
    t = time.perf_counter()
    for i in range(n):
        p = winrm.Session(url, auth=(user, pw), transport="ntlm", message_encryption="always").protocol
        sh = p.open_shell()
        p.close_shell(sh)
    print(json.dumps({"ms": (time.perf_counter() - t) * 1000}))
