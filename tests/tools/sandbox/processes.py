"""Process supervision: start a server in a session of its own, wait until it answers, and stop
only a process whose command line still names the program the sandbox started."""

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request


class SandboxError(Exception):
    pass


def log(msg):
    print("sandbox: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def write_text(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def process_alive(pid, program):
    """True while PID runs and its command line still names PROGRAM (guards against PID reuse)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return False
    # A process caught between fork and exec shows an empty command line for a moment.
    return program in cmdline or cmdline == ""


def stop_process(pid, program, timeout=15):
    if not process_alive(pid, program):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not process_alive(pid, program):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def spawn(argv, logfile, env=None):
    """Start a long-running process in its own session so it outlives the caller."""
    out = open(logfile, "wb")
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, close_fds=True,
        )
    finally:
        out.close()
    return proc.pid


def wait_for(check, what, timeout, logfile=None, pid=None, program=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        if pid is not None and not process_alive(pid, program):
            break
        time.sleep(0.2)
    tail = ""
    if logfile and os.path.exists(logfile):
        with open(logfile, errors="replace") as handle:
            tail = "".join(handle.readlines()[-25:])
    raise SandboxError("%s did not become ready within %ss%s" % (what, timeout, ("; log tail:\n" + tail) if tail else ""))


def http_ok(url, context=None, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


class RecordedProcess:
    """A server that ``up`` started and recorded in the state directory (``<name>.pid``,
    ``<name>.port``, ``<name>.log``), so that ``down`` stops exactly that process."""

    program = None
    name = None

    def __init__(self, root):
        self.root = root
        self.pid_file = os.path.join(root, self.name + ".pid")
        self.port_file = os.path.join(root, self.name + ".port")
        self.log_file = os.path.join(root, self.name + ".log")

    @property
    def pid(self):
        value = read_text(self.pid_file)
        return int(value) if value else None

    @property
    def port(self):
        value = read_text(self.port_file)
        return int(value) if value else None

    def running(self):
        return self.pid is not None and process_alive(self.pid, self.program)

    def _record(self, pid, port):
        write_text(self.pid_file, "%d\n" % pid)
        write_text(self.port_file, "%d\n" % port)

    def _stop(self):
        """Stop the recorded process; return its PID when it was running, else None."""
        pid = self.pid
        stopped = pid is not None and stop_process(pid, self.program)
        for path in (self.pid_file, self.port_file):
            if os.path.exists(path):
                os.unlink(path)
        return pid if stopped else None
