"""Emulated AWS: moto's server (tests/tools/moto_server.py, moto with the sandbox's patches) on
127.0.0.1, with fake credentials and one region."""

import os
import sys
import urllib.request

from .config import AWS_REGION, REPO_ROOT
from .processes import RecordedProcess, SandboxError, free_port, http_ok, log, spawn, wait_for

MOTO_SERVER = os.path.join(REPO_ROOT, "tests", "tools", "moto_server.py")

# Fake credentials: moto accepts anything; these make accidental use against real AWS fail.
AWS_ACCESS_KEY_ID = "AKIAMOTOSANDBOX00000"
AWS_SECRET_ACCESS_KEY = "moto-sandbox-secret-not-a-real-key"


class Moto(RecordedProcess):
    program = "moto_server"
    name = "moto"

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def answers(self):
        return self.running() and http_ok(self.endpoint + "/moto-api/")

    def up(self, timeout=60, extra_env=None):
        """Start the server; ``extra_env`` (e.g. MLOPS_MOTO_DELAYS) is added to its environment."""
        if self.answers():
            log("moto server already running on %s (pid %d)" % (self.endpoint, self.pid))
            return
        self.down(quiet=True)
        try:
            import moto.server  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        except ImportError:
            raise SandboxError("moto[server] is not installed: run `make setup`")
        port = free_port()
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", **(extra_env or {}))
        pid = spawn([sys.executable, MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], self.log_file, env=env)
        self._record(pid, port)
        wait_for(self.answers, "moto server on port %d" % port, timeout, self.log_file, pid, self.program)
        log("moto server running on %s (pid %d)" % (self.endpoint, pid))

    def down(self, quiet=False):
        pid = self._stop()
        if not quiet:
            log("moto server stopped (pid %d)" % pid if pid else "moto server was not running")

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 200:
                raise SandboxError("moto reset answered HTTP %d" % resp.status)

    def env(self):
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
        }
