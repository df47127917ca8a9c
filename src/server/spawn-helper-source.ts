/**
 * The spawn helper's program (Python 3, standard library only), run as `python3 -I -S -X utf8 -c SOURCE SOCKET`.
 * Kept in its own module so that the TypeScript around it stays readable.
 *
 * Protocol (all lines end with \n):
 *   endpoint -> helper (its stdin), one JSON object per line:
 *     {"t": TOKEN, "a": [FILE, ARG...], "c": CWD or null, "e": {ENV}}
 *   helper -> endpoint (its stdout):
 *     "s TOKEN PID"            started (setsid: PID is also the process group and session)
 *     "e TOKEN ERRNO_NAME"     not started (ENOENT, EACCES...)
 *     "x TOKEN CODE SIGNAL"    exited: CODE -1 with SIGNAL > 0 when killed by a signal, else SIGNAL 0
 *   stdio: for each process the helper connects three times to the endpoint's unix socket SOCKET, writes
 *   TOKEN + "0" / "1" / "2" (33 bytes) on each connection and gives the connected sockets to the process as its
 *   stdin, stdout, stderr; its own copies are closed at once. Nothing is relayed: the process and the endpoint talk
 *   over those sockets directly (what Node's own spawn does with socketpairs).
 * When its stdin ends (the endpoint is gone) the helper kills the process group of every process it started that
 * is still running, and exits.
 * subprocess.Popen forks with vfork (no preexec_fn, no uid/gid change): a few hundred microseconds, whatever the
 * size of the endpoint.
 */
export const HELPER_SOURCE = String.raw`
import errno, json, os, selectors, signal, socket, subprocess, sys
SOCK = sys.argv[1]
children = {}

def emit(line):
    data = line.encode()
    while data:
        data = data[os.write(1, data):]

def spawn(r):
    t = r['t']
    socks = []
    try:
        for i in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.connect(SOCK)
            s.sendall((t + str(i)).encode())
        p = subprocess.Popen(r['a'], stdin=socks[0].fileno(), stdout=socks[1].fileno(), stderr=socks[2].fileno(),
                             cwd=r.get('c'), env=r['e'], start_new_session=True)
    except OSError as e:
        emit('e %s %s\n' % (t, errno.errorcode.get(e.errno, 'EIO')))
    except Exception:
        emit('e %s EINVAL\n' % t)
    else:
        children[p.pid] = (t, p)
        emit('s %s %d\n' % (t, p.pid))
    finally:
        for s in socks:
            s.close()

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ent = children.pop(pid, None)
        if ent is None:
            continue
        t, p = ent
        p.returncode = os.waitstatus_to_exitcode(status)
        if os.WIFSIGNALED(status):
            emit('x %s -1 %d\n' % (t, os.WTERMSIG(status)))
        else:
            emit('x %s %d 0\n' % (t, os.WEXITSTATUS(status)))

def main():
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda n, f: None)
    os.set_blocking(0, False)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, 'in')
    sel.register(rfd, selectors.EVENT_READ, 'sig')
    buf = b''
    emit('r\n')
    while True:
        for key, _ in sel.select():
            if key.data == 'sig':
                try:
                    while os.read(rfd, 512):
                        pass
                except BlockingIOError:
                    pass
                reap()
                continue
            try:
                chunk = os.read(0, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                for pid in list(children):
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            buf += chunk
            while True:
                i = buf.find(b'\n')
                if i < 0:
                    break
                line, buf = buf[:i], buf[i + 1:]
                if line.strip():
                    spawn(json.loads(line))

main()
`;
