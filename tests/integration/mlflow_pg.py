"""A throw-away PostgreSQL server for the MLflow tests (the backend store of the server).

Debian's PostgreSQL server binaries (initdb, pg_ctl) in a temporary directory, on 127.0.0.1
and a free port, with password (SCRAM) authentication over TCP, the way RDS answers. The
server refuses to run as root, so as root it runs as the ``postgres`` system user.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def server_bindir():
    """Directory holding initdb/pg_ctl: PATH first, then Debian's versioned location."""
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
                    "'postgresql' (`make setup` does, see tests/tools/debian-packages.txt)")
    return os.path.dirname(candidates[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowPostgres:
    """PostgreSQL with a database and an owner role for MLflow; ``uri`` is the SQLAlchemy URI."""

    SUPERUSER = "postgres"
    DATABASE = "mlflow"
    USER = "mlflow"
    PASSWORD = "Mlflow0Backend0Store0Password0x"

    def __init__(self):
        self.bindir = server_bindir()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="mlops-mlflow-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_user = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the 'postgres' system user (Debian package postgresql)")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def uri(self):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (self.USER, self.PASSWORD, self.port, self.DATABASE)

    def _run(self, argv, input=None):
        proc = subprocess.run(self.as_user + argv, input=input, capture_output=True, text=True, check=False,
                              timeout=120)
        if proc.returncode != 0:
            raise AssertionError("%s failed:\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))
        return proc.stdout

    def psql(self, sql, database=None):
        """Run SQL as the superuser over the Unix socket; returns unaligned, tuples-only output."""
        return self._run([os.path.join(self.bindir, "psql"), "-h", self.dir, "-p", str(self.port),
                          "-U", self.SUPERUSER, "-d", database or "postgres", "-v", "ON_ERROR_STOP=1",
                          "-At", "-c", sql])

    def start(self):
        pwfile = os.path.join(self.dir, "superuser-password")
        with open(pwfile, "w") as handle:
            handle.write("Superuser0Password0For0Tests0x\n")
        if self.as_user:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.SUPERUSER, "--pwfile", pwfile,
                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                   "-w", "-t", "60", "-o",
                   "-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off"
                   % (self.port, self.dir), "start"])
        deadline = time.time() + 30
        while True:
            try:
                self.psql("SELECT 1")
                break
            except AssertionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        # The MLflow database belongs to its own login role, like on RDS (rds_metadata).
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.USER, self.PASSWORD))
        self.psql("CREATE DATABASE %s OWNER %s" % (self.DATABASE, self.USER))
        return self

    def stop(self):
        try:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
