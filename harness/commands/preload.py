"""``harness preload -- <command>``: run a command (``dvc repro``) whose ``harness <stage>`` calls start in a
fraction of a second instead of ~15 s.

Every stage is a process of its own, and ~85% of a small stage's time is importing torch, transformers,
peft and bitsandbytes (measured: 15 of 17 s for a tiny evaluate stage on 2 cores; ~60 stages in the
pipeline). Like Rails' Spring preloader, this command imports them once, then runs the command with
``HARNESS_PRELOAD`` pointing at a Unix socket: each ``harness`` call made under it sends its arguments,
working directory, environment and standard streams there, and the server forks a child that runs the
stage exactly as the CLI would, in a process that has imported everything and run nothing, and hands
back the exit status. Results are the same either way (the child starts from the same imported state a
fresh process reaches, and every stage seeds its own RNGs).

Never stale: the server lives only as long as the command it runs, and a call whose harness sources differ
from what the server imported (edited mid-run) runs in a fresh process instead. Without the variable, or
when the server cannot be reached, ``harness`` runs as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

ENV = "HARNESS_PRELOAD"
PACKAGE = Path(__file__).resolve().parents[1]  # harness/


def source_key() -> str:
    """What the server's imports depend on: the interpreter and every harness source file's content."""
    h = hashlib.sha256(sys.executable.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall((json.dumps(message) + "\n").encode())


# ---------------------------------------------------------------- client: called by `harness <stage>`


def delegate(argv: list[str]) -> int | None:
    """Run ``harness <argv>`` in the preload server's fork; its exit status, or None to run it here."""
    path = os.environ.get(ENV)
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    with conn, conn.makefile("r") as replies:
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "key": source_key()}
        socket.send_fds(conn, [(json.dumps(request) + "\n").encode()], [0, 1, 2])
        first = json.loads(replies.readline() or "{}")
        if "pid" not in first:
            print(f"harness: preload server: {first.get('refused', 'no answer')}; running in a fresh process", file=sys.stderr)
            return None
        pid = first["pid"]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
        last = json.loads(replies.readline() or '{"exit": 1}')
    return last["exit"]


# ---------------------------------------------------------------- server: `harness preload -- <command>`


def _run_child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the process the CLI would have started, run the stage, exit."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(ENV, None)  # what this stage starts is not preloaded by us
        sys.argv = ["harness", *request["argv"]]
        from harness.core.command_table import run

        code = run(request["argv"])
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception in a fresh process
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _serve_one(conn: socket.socket, key: str, listener: socket.socket) -> None:
    with conn:
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        buffer = message
        while not buffer.endswith(b"\n"):
            more = conn.recv(1 << 20)
            if not more:
                break
            buffer += more
        request = json.loads(buffer)
        if request.get("key") != key or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            _send(conn, {"refused": "harness sources changed since it started" if len(fds) == 3 else "no standard streams"})
            return
        pid = os.fork()
        if pid == 0:
            listener.close()
            conn.close()
            _run_child(request, fds)
        for fd in fds:
            os.close(fd)
        _send(conn, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        _send(conn, {"exit": os.waitstatus_to_exitcode(status)})


def preload_modules() -> None:
    """Import what the stages import, without running anything (no torch kernel: see harness/core/workers.py)."""
    from harness.core.command_table import COMMANDS, configure_logging

    configure_logging()  # before the libraries are imported: they read its switches then
    for name, module in COMMANDS.items():
        if name != "preload":
            __import__(module)


def main(argv: list[str]) -> None:
    from harness.core.errors import HarnessError

    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        raise HarnessError("usage: harness preload -- <command> (e.g. harness preload -- dvc repro)")
    if shutil.which(command[0]) is None:
        raise HarnessError(f"preload: command not found: {command[0]}")
    preload_modules()
    key = source_key()
    where = Path(tempfile.mkdtemp(prefix="harness-preload-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(where / "socket"))
    listener.listen(16)
    proc = subprocess.Popen(command, env={**os.environ, ENV: str(where / "socket")})
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    try:
        while proc.poll() is None:
            if selector.select(timeout=0.2):
                conn, _ = listener.accept()
                _serve_one(conn, key, listener)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
    finally:
        selector.close()
        listener.close()
        shutil.rmtree(where, ignore_errors=True)
    sys.exit(proc.wait())
