"""gitward's CGI spawner: starts git-http-backend and cgit for the running server.

Why it exists (ARCHITECTURE.md, "Starting CGI programs"): Node's child_process.spawn() forks the
whole gitward process and blocks its event loop until the child has exec'd, 5-13 ms a request on
the build machine and more as gitward's memory grows. This small long-lived process starts each
program with posix_spawn (vfork + exec) in well under a millisecond, off gitward's event loop.

gitward (app/backend/cgi-spawner.ts) starts it as `python3 -I -S cgi-spawner.py SOCKET` and talks
to it in JSON lines:
  gitward -> spawner, stdin:  {"id": N, "token": HEX, "path": P, "env": {...}}, then {"opened": N}
  spawner -> gitward, stdout: {"id": N, "fifo": true}, then {"id": N, "pid": PID}, or at any step
                              {"id": N, "error": MESSAGE}; once the program is gone {"id": N, "code": C}
                              or {"id": N, "signal": NAME}
For each request it opens two connections to SOCKET (gitward's listener, in a directory only
gitward's user can enter), writes "<id> <token> <i|e>\n" on each and gives them to the program as
its stdin and stderr. Its stdout is a FIFO in that directory, "<id>.out" (8 hex digits), that
gitward opens for reading: a pipe, because cgit writes its pages a few bytes per write(), and a pipe
packs such writes into its pages where a socket queues each one with several hundred bytes of
overhead, so a reader that waits a moment (run-backend.ts, "paced") would soon stall the writer.
The spawner makes the FIFO and says "fifo"; gitward opens its read end and says "opened"; only then
is the write end opened and the program started. The order matters: Linux reports a FIFO's hang-up
(the program and all it started have closed stdout) only to readers that opened it before the
writer did; a reader that came later sees the end only if it happens to read at that moment.
The program gets exactly the environment in the request, default signal dispositions, no other
open file, and a session of its own (its pid is its process group, which gitward signals to stop
it and everything it started).

When gitward goes away (its end of stdin or stdout closes, or the parent-death signal), every program
still running gets SIGTERM: git-http-backend copying a body of known length loops for ever once its stdin
is gone (git 2.39), so no program may outlive gitward. SIGTERM and SIGINT themselves are ignored:
gitward decides when the spawner stops, after its in-flight requests.
"""

import ctypes
import json
import os
import selectors
import signal
import socket
import sys

# prctl(PR_SET_PDEATHSIG, SIGUSR1): the kernel tells this process when gitward dies, even by SIGKILL.
PR_SET_PDEATHSIG = 1
# Signals a program starts with at their default disposition. Python ignores SIGPIPE and SIGXFSZ,
# and ignored signals survive exec: git must die of SIGPIPE like any program started by a shell.
DEFAULT_SIGNALS = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]


# The programs started and not yet reaped: pidfd -> (request id, pid).
RUNNING = {}

# Requests whose stdout FIFO gitward has not opened yet: request id -> request.
WAITING = {}


def main():
    # Nothing gitward's own parent left open reaches a CGI program: fds above 2 are closed first.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    sock_path = sys.argv[1]
    parent = os.getppid()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: stop_all())
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != parent:
        return
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.fd == 0:
                data = os.read(0, 65536)
                if not data:
                    stop_all()
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if "opened" not in message:
                        prepare(message, sock_path)
                        continue
                    request = WAITING.pop(message["opened"], None)
                    pidfd = None if request is None else start(request, sock_path)
                    if pidfd is not None:
                        selector.register(pidfd, selectors.EVENT_READ)
            else:
                request_id, pid = RUNNING.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    send({"id": request_id, "signal": signal.Signals(os.WTERMSIG(status)).name})
                else:
                    send({"id": request_id, "code": os.waitstatus_to_exitcode(status)})


def fifo_path(request, sock_path):
    return os.path.join(os.path.dirname(sock_path), f"{request['id']:08x}.out")


def prepare(request, sock_path):
    """Makes the request's stdout FIFO and asks gitward to open it."""
    try:
        os.mkfifo(fifo_path(request, sock_path), 0o600)
    except OSError as err:
        send({"id": request["id"], "error": f"the output FIFO: {err.strerror}"})
        return
    WAITING[request["id"]] = request
    send({"id": request["id"], "fifo": True})


def start(request, sock_path):
    """Starts one program; returns its pidfd, or None when it could not start."""
    request_id = request["id"]
    conns = []
    fifo = fifo_path(request, sock_path)
    out = None
    try:
        for kind in "ie":
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conns.append(conn)
            conn.connect(sock_path)
            conn.sendall(f"{request_id:08x} {request['token']} {kind}\n".encode("ascii"))
        # gitward holds the read end: without it this fails (ENXIO) instead of waiting.
        out = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.set_blocking(out, True)
        os.unlink(fifo)
        stdio = [conns[0].fileno(), out, conns[1].fileno()]
        # The parent-death signal waits until the program is in RUNNING: one that arrived between
        # the spawn and that line would stop all but it. The program starts with nothing blocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        try:
            pid = os.posix_spawn(
                request["path"],
                [request["path"]],
                request["env"],
                file_actions=[(os.POSIX_SPAWN_DUP2, source, fd) for fd, source in enumerate(stdio)],
                setsid=True,
                setsigmask=[],
                setsigdef=DEFAULT_SIGNALS,
            )
            pidfd = os.pidfd_open(pid)
            RUNNING[pidfd] = (request_id, pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    except OSError as err:
        if os.path.lexists(fifo):
            os.unlink(fifo)
        send({"id": request_id, "error": f"{request['path']}: {err.strerror}"})
        return None
    finally:
        for conn in conns:
            conn.close()
        if out is not None:
            os.close(out)
    send({"id": request_id, "pid": pid})
    return pidfd


def send(message):
    """One report to gitward. A write that fails means gitward is gone: its pipe closes before
    the kernel sends the parent-death signal, and a program that ended in between would otherwise
    end this process by an exception, leaving the others running."""
    try:
        os.write(1, (json.dumps(message) + "\n").encode("utf-8"))
    except OSError:
        stop_all()


def stop_all():
    """gitward is gone: SIGTERM to every program's group, then exit."""
    for _, pid in RUNNING.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
