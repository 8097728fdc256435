"""The offline chart mirror, served as a Helm chart repository on 127.0.0.1."""

import os
import sys

from .config import REPO_ROOT
from .processes import RecordedProcess, free_port, http_ok, log, spawn, wait_for

# The offline mirror of unmodified upstream Helm charts beside the checkout (a chart
# repository: index.yaml with relative URLs). A clone without it uses the upstream repositories.
CHART_MIRROR = os.environ.get("MLOPS_CHART_MIRROR") or os.path.join(os.path.dirname(REPO_ROOT), "shared", "charts")


class ChartMirror(RecordedProcess):
    """Serves the offline chart mirror (``CHART_MIRROR``) as a Helm chart repository on
    127.0.0.1, the way a private chart repository serves an air-gapped install: static files,
    ``index.yaml`` plus the chart packages, over HTTP (Python's ``http.server``). The roles
    reach it through ``platform_chart_repo_url`` (``MLOPS_CHART_REPO_URL`` in the sandbox's
    env). Without a mirror nothing is started and the charts come from upstream."""

    program = "http.server"
    name = "charts"

    def __init__(self, root, directory=CHART_MIRROR):
        super().__init__(root)
        self.directory = os.path.abspath(directory)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def available(self):
        return os.path.isfile(os.path.join(self.directory, "index.yaml"))

    def answers(self):
        return self.running() and self.port is not None and http_ok(self.url + "/index.yaml")

    def up(self, timeout=30):
        if not self.available():
            log("no offline chart mirror at %s: charts come from their upstream repositories (internet)"
                % self.directory)
            return
        if self.answers():
            log("chart mirror already served on %s (pid %d)" % (self.url, self.pid))
            return
        self.down(quiet=True)
        port = free_port()
        pid = spawn([sys.executable, "-m", self.program, "--bind", "127.0.0.1", "--directory", self.directory,
                     str(port)], self.log_file)
        self._record(pid, port)
        wait_for(self.answers, "chart mirror on port %d" % port, timeout, self.log_file, pid, self.program)
        log("offline chart mirror %s served on %s (pid %d)" % (self.directory, self.url, pid))

    def down(self, quiet=False):
        pid = self._stop()
        if not quiet and pid:
            log("chart mirror stopped (pid %d)" % pid)

    def env(self):
        return {"MLOPS_CHART_REPO_URL": self.url}
