"""The command line: ``python -m sandbox [--dir DIR] [--only aws|kube|all] up|down|status|env``,
with tests/tools on PYTHONPATH (the Makefile's sandbox targets run it so)."""

import argparse
import os
import sys

from .config import DEFAULT_DIR
from .processes import SandboxError, log
from .stack import Sandbox

# tests/tools, the directory that holds this package: a child process finds it there.
TOOLS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(*args):
    """The argv that runs this command line in a child process: ``python -m sandbox ARGS``."""
    return [sys.executable, "-m", "sandbox"] + list(args)


def command_env(env=None):
    """ENV (default: os.environ) with tests/tools first on PYTHONPATH, so that ``command()`` finds
    this package (pytest's pythonpath setting reaches only the pytest process itself)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(path for path in (TOOLS_DIR, env.get("PYTHONPATH")) if path)
    return env


def main(argv=None):
    # The package's docstring says what the sandbox is; its first line is the help's description.
    description = sys.modules[__package__].__doc__.split("\n", maxsplit=1)[0]
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=description)
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--only", choices=["aws", "kube", "all"], default="all", help="which part of the sandbox")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="state directory (default: .sandbox/)")
    args = parser.parse_args(argv)
    sandbox = Sandbox(args.dir)
    try:
        if args.command == "up":
            sandbox.up(args.only)
            print(sandbox.env_file)
        elif args.command == "down":
            sandbox.down(args.only)
        elif args.command == "env":
            for key, value in sorted(sandbox.env().items()):
                print("export %s=%s" % (key, value))
        else:
            report = sandbox.status(args.only)
            for part, ok in report.items():
                print("%s: %s" % (part, "up" if ok else "down"))
            return 0 if all(report.values()) else 1
    except SandboxError as exc:
        log("error: %s" % exc)
        return 1
    return 0
