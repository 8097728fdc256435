"""The whole sandbox: emulated AWS, the control plane and the chart mirror in one state directory,
and the env file that hands their endpoints to tests, molecule and the sandbox inventory."""

import os

from .aws import Moto
from .charts import ChartMirror
from .config import DEFAULT_DIR
from .control_plane import Cluster
from .processes import write_text


class Sandbox:
    def __init__(self, root=DEFAULT_DIR):
        self.root = os.path.abspath(root)
        self.moto = Moto(self.root)
        self.cluster = Cluster(self.root)
        self.charts = ChartMirror(self.root)
        self.env_file = os.path.join(self.root, "env")

    def parts(self, which):
        return {"aws": [self.moto], "kube": [self.cluster, self.charts],
                "all": [self.moto, self.cluster, self.charts]}[which]

    def env(self):
        env = {}
        if self.moto.answers():
            env.update(self.moto.env())
        if self.cluster.answers():
            env.update(self.cluster.env())
        if self.charts.answers():
            env.update(self.charts.env())
        return env

    def write_env(self):
        env = self.env()
        if not env:
            if os.path.exists(self.env_file):
                os.unlink(self.env_file)
            return
        lines = ["# Written by the sandbox (python -m sandbox, tests/tools/sandbox/). Source it: . .sandbox/env"]
        lines += ["export %s=%s" % (k, v) for k, v in sorted(env.items())]
        write_text(self.env_file, "\n".join(lines) + "\n")

    def up(self, which="all"):
        os.makedirs(self.root, exist_ok=True)
        try:
            for part in self.parts(which):
                part.up()
        finally:
            self.write_env()

    def down(self, which="all"):
        for part in reversed(self.parts(which)):
            part.down()
        self.write_env()

    def status(self, which="all"):
        report = {}
        if which in ("aws", "all"):
            report["aws"] = self.moto.answers()
        if which in ("kube", "all"):
            report["kube"] = self.cluster.answers()
            if self.charts.available():
                report["charts"] = self.charts.answers()
        return report
