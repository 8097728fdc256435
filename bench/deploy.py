"""Deploy-time benchmark of site.yml on the sandbox with emulated AWS provisioning delays (`make bench`).

On AWS the slow part of a deploy is waiting: the EKS control plane (~10 min), managed node
groups (3-5), RDS (5-10), EFS (~1). The sandbox's moto server can make these resources report
their creating states for a configured time (tests/tools/moto_patches/provisioning_delays.py),
so the deploy waits for real, scaled down. This script measures:

  wall_s              site.yml on a fresh sandbox with the delays (median of --runs)
  baseline_wall_s     the same without delays: the sandbox's own Ansible/Kubernetes time
  delay_chain_s       the longest chain of delays in the platform's dependency graph
                      (network -> EKS control plane -> node groups, in parallel; RDS and EFS
                      need only the network; the applications come after everything)
  critical_path_s     delay_chain_s + baseline_wall_s: the best a perfectly overlapped deploy
                      can do on this machine
  serial_sum_s        the sum of all delays (each node group, RDS instance, file system that
                      the run created counts); serial_estimate_s = baseline + serial sum
  rerun_*             an immediate re-run: wall, changed count, AWS API requests (moto's
                      request log, tests/tools/moto_patches/request_log.py), per role

Each run starts from a fresh sandbox (emulated AWS and the local control plane restarted,
etcd wiped) in --dir. Results: printed, and written to bench/results/latest.json.
"""

import argparse
import collections
import configparser
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

# From tests/tools, which `make bench` puts on PYTHONPATH: the checkout's environment, the
# emulator's delay syntax, the figures drawn from a run's request log and task timeline
# (shared with tests/integration/test_provisioning_delays.py, which checks them), and the sandbox.
import sandbox as sandbox_tool
from checkout_env import checkout_env
from deploy_figures import (DEFAULT_DELAYS, DELAY_PRESETS, created_resources, delay_figures, longest_tasks, owner_label,
                            per_role, per_task, task_windows)
from moto_patches import provisioning_delays

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.join(REPO_ROOT, ".venv", "bin")
RESULTS = os.path.join(HERE, "results", "latest.json")
TARGET_RATIO = 1.15
TARGET_RERUN_SHARE = 1.0 / 3


def say(msg=""):
    print(msg, flush=True)


def base_env():
    # The emulator's switches belong to the benchmark's own sandbox, set per run.
    return checkout_env(unset=("MLOPS_MOTO_DELAYS", "MLOPS_MOTO_REQUEST_LOG", "MLOPS_MOTO_FAULTS"), venv_bin=VENV_BIN)


def read_env_file(path):
    values = {}
    with open(path) as handle:
        for line in handle:
            match = re.match(r"^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.strip())
            if match:
                values[match.group(1)] = match.group(2).strip("'\"")
    return values


class Sandbox:
    """A sandbox of the benchmark's own, restarted from scratch for every run."""

    def __init__(self, root):
        self.root = root

    def _cli(self, *args, env=None):
        proc = subprocess.run(sandbox_tool.command("--dir", self.root, *args), env=sandbox_tool.command_env(env or base_env()),
                              check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise SystemExit("bench: sandbox %s failed:\n%s" % (" ".join(args), proc.stdout[-4000:]))
        return proc.stdout

    def fresh(self, delays, request_log):
        """Stop everything (etcd data goes too), start again with DELAYS and a request log."""
        self._cli("down")
        env = base_env()
        env["MLOPS_MOTO_REQUEST_LOG"] = request_log
        if delays:
            env["MLOPS_MOTO_DELAYS"] = delays
        started = time.monotonic()
        self._cli("up", env=env)
        return time.monotonic() - started

    def down(self):
        self._cli("down")

    def env(self):
        return read_env_file(os.path.join(self.root, "env"))


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def recap(output):
    """The PLAY RECAP counters of localhost, e.g. {'ok': 300, 'changed': 0, ...}."""
    lines = [line for line in output.splitlines() if re.match(r"^localhost\s+:", line)]
    if not lines:
        return {}
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}


def configured_callbacks():
    """callbacks_enabled from ansible.cfg: the benchmark adds its own to them, it does not replace them."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(REPO_ROOT, "ansible.cfg"))
    return parser.get("defaults", "callbacks_enabled", fallback="")


def run_playbook(args, sandbox, label, logdir):
    """ansible-playbook site.yml once; returns a dict with wall, recap, timeline, log path."""
    env = base_env()
    env.update(sandbox.env())
    timeline = os.path.join(logdir, label + ".timeline.jsonl")
    if os.path.exists(timeline):
        os.unlink(timeline)
    enabled = [c.strip() for c in (env.get("ANSIBLE_CALLBACKS_ENABLED") or configured_callbacks()).split(",")
               if c.strip()]
    env.update({
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(enabled + ["bench_timeline"]),
        "MLOPS_BENCH_TIMELINE": timeline,
    })
    log = os.path.join(logdir, label + ".log")
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), args.playbook, "-i", args.inventory]
    started_wall = time.time()
    started = time.monotonic()
    with open(log, "w") as handle:
        # No stdin: nothing in a measured run may wait for input, and ansible-playbook refuses a
        # non-blocking one inherited from the caller.
        proc = subprocess.run(argv, env=env, cwd=REPO_ROOT, check=False, stdin=subprocess.DEVNULL, stdout=handle,
                              stderr=subprocess.STDOUT)
    wall = time.monotonic() - started
    with open(log) as handle:
        output = handle.read()
    counters = recap(output)
    if proc.returncode != 0 or not counters:
        tail = "\n".join(output.splitlines()[-60:])
        raise SystemExit("bench: %s run of %s failed (exit %d, log %s):\n%s" % (
            label, args.playbook, proc.returncode, log, tail))
    return {"label": label, "wall_s": wall, "start": started_wall, "end": started_wall + wall,
            "recap": counters, "timeline": read_jsonl(timeline), "log": log}


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------
def delayed_run(args, sandbox, index, logdir):
    request_log = os.path.join(logdir, "run%d.requests.jsonl" % index)
    if os.path.exists(request_log):
        os.unlink(request_log)
    setup = sandbox.fresh(args.delays, request_log)
    say("run %d: fresh sandbox with delays %s (%.0f s to start)" % (index, args.delays, setup))
    first = run_playbook(args, sandbox, "run%d-first" % index, logdir)
    say("run %d: first  %7.1f s  %s" % (index, first["wall_s"], recap_text(first["recap"])))
    second = run_playbook(args, sandbox, "run%d-rerun" % index, logdir)
    requests = read_jsonl(request_log)
    in_first = [r for r in requests if first["start"] <= r["t"] <= first["end"]]
    in_rerun = [r for r in requests if second["start"] <= r["t"] <= second["end"]]
    windows = task_windows(second["timeline"])
    first_windows = task_windows(first["timeline"])
    say("run %d: rerun  %7.1f s  %s  AWS requests=%d" % (
        index, second["wall_s"], recap_text(second["recap"]), len(in_rerun)))
    return {
        "wall_s": round(first["wall_s"], 1),
        "changed": first["recap"].get("changed"),
        "first_api_requests": len(in_first),
        "created": dict(created_resources(in_first)),
        "first_roles": {k: {key: v[key] for key in ("busy_s", "from_s", "to_s", "requests")}
                        for k, v in per_role(in_first, first_windows).items()},
        "first_longest_tasks": longest_tasks(first_windows),
        "rerun_wall_s": round(second["wall_s"], 1),
        "rerun_changed": second["recap"].get("changed"),
        "rerun_api_requests": len(in_rerun),
        "rerun_roles": per_role(in_rerun, windows),
        "rerun_top_tasks": per_task(in_rerun, windows),
        "rerun_changed_tasks": [{"role": owner_label(w), "task": w["task"]} for w in windows if w["changed"]],
        "logs": {"first": first["log"], "rerun": second["log"], "requests": request_log},
    }


def baseline_run(args, sandbox, index, logdir):
    request_log = os.path.join(logdir, "baseline%d.requests.jsonl" % index)
    if os.path.exists(request_log):
        os.unlink(request_log)
    sandbox.fresh("", request_log)
    result = run_playbook(args, sandbox, "baseline%d" % index, logdir)
    say("baseline %d: no delays %7.1f s  %s" % (index, result["wall_s"], recap_text(result["recap"])))
    roles = per_role([], task_windows(result["timeline"]))
    return {"wall_s": round(result["wall_s"], 1), "changed": result["recap"].get("changed"), "log": result["log"],
            "roles_busy_s": {k: v["busy_s"] for k, v in roles.items()}}


def recap_text(counters):
    return " ".join("%s=%s" % (k, counters.get(k, 0)) for k in ("ok", "changed", "failed", "skipped"))


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def git_commit():
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, check=False,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def delay_cost(runs, baselines):
    """Median over the runs of (wall with delays - the same run's zero-delay baseline): what the
    delays cost the deploy. Perfect overlap costs about delay_chain_s or less (work the baseline
    does off the longest chain can hide in its waits); no overlap costs about serial_sum_s."""
    pairs = [r["wall_s"] - b["wall_s"] for r, b in zip(runs, baselines)]
    return round(statistics.median(pairs), 1) if pairs else None


def summarise(args, delays, runs, baselines, started):
    counts = collections.Counter()
    for run in runs:  # the same playbook creates the same resources each run; keep the largest count
        for kind, n in run["created"].items():
            counts[kind] = max(counts[kind], n)
    chain, chain_path, serial = delay_figures(delays, counts)
    wall = median([r["wall_s"] for r in runs])
    baseline = median([b["wall_s"] for b in baselines]) if baselines else None
    critical = round(chain + baseline, 1) if baseline is not None else None
    rerun_wall = median([r["rerun_wall_s"] for r in runs])
    last = runs[-1]
    return {
        "wall_s": wall,
        "critical_path_s": critical,
        "ratio_wall_to_critical_path": round(wall / critical, 3) if critical else None,
        "delay_cost_s": delay_cost(runs, baselines),
        "delay_chain_s": round(chain, 1),
        "delay_chain": chain_path,
        "baseline_wall_s": baseline,
        "serial_sum_s": round(serial, 1),
        "serial_estimate_s": round(serial + baseline, 1) if baseline is not None else None,
        "rerun_wall_s": rerun_wall,
        "rerun_share_of_first": round(rerun_wall / wall, 3) if wall else None,
        "rerun_changed": max(r["rerun_changed"] or 0 for r in runs),
        "rerun_api_requests": int(statistics.median([r["rerun_api_requests"] for r in runs])),
        "rerun_requests_by_role": {k: v["requests"] for k, v in last["rerun_roles"].items()},
        "rerun_roles": last["rerun_roles"],
        "rerun_top_tasks": last["rerun_top_tasks"],
        "rerun_changed_tasks": [t for r in runs for t in r["rerun_changed_tasks"]],
        "first_run_roles": last["first_roles"],
        "first_run_longest_tasks": last["first_longest_tasks"],
        "targets": {
            "wall_over_critical_path_max": TARGET_RATIO,
            "ratio_met": (wall / critical <= TARGET_RATIO) if critical else None,
            "rerun_changed_zero": all((r["rerun_changed"] or 0) == 0 for r in runs),
            "rerun_at_most_a_third": rerun_wall <= wall * TARGET_RERUN_SHARE if wall else None,
        },
        "delays": delays,
        "delays_spec": args.delays,
        "resources_created": dict(counts),
        "runs": [{k: v for k, v in r.items() if k not in ("rerun_roles", "first_roles", "first_longest_tasks")}
                 for r in runs],
        "baseline_runs": baselines,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": started["load"], "loadavg_end": list(os.getloadavg())},
        "playbook": args.playbook,
        "inventory": args.inventory,
        "commit": started["commit"],
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started["mono"], 1),
    }


def report(result):
    say()
    say("=== deploy benchmark: %s -i %s (commit %s) ===" % (result["playbook"], result["inventory"], result["commit"]))
    n = len(result["runs"])
    say("delays: %s   (median of %d run%s; machine: %s CPUs, load %s)" % (
        result["delays_spec"], n, "" if n == 1 else "s", result["machine"]["cpus"],
        " ".join("%.1f" % x for x in result["machine"]["loadavg_start"])))
    say("resources created: %s" % ", ".join("%s x%d" % kv for kv in sorted(result["resources_created"].items())))
    rows = [
        ("%s wall (with delays)" % os.path.basename(result["playbook"]), result["wall_s"], [r["wall_s"] for r in result["runs"]]),
        ("baseline wall (no delays)", result["baseline_wall_s"], [b["wall_s"] for b in result["baseline_runs"]]),
    ]
    for label, value, samples in rows:
        say("  %-34s %8s s   runs: %s" % (label, value, ", ".join("%.1f" % s for s in samples) or "-"))
    say("  %-34s %8s s   (%s)" % ("delay chain (longest)", result["delay_chain_s"], result["delay_chain"]))
    say("  %-34s %8s s   (delay chain + baseline)" % ("critical path", result["critical_path_s"]))
    say("  %-34s %8s     (target <= %.2f)" % ("wall / critical path", result["ratio_wall_to_critical_path"],
                                              TARGET_RATIO))
    say("  %-34s %8s s   (serial estimate: baseline + sum = %s s)" % (
        "serial sum of delays", result["serial_sum_s"], result["serial_estimate_s"]))
    say("  %-34s %8s s   runs: %s  (no overlap: ~serial sum; perfect: <= delay chain)" % (
        "delay cost (wall - baseline)", result["delay_cost_s"],
        ", ".join("%.1f" % (r["wall_s"] - b["wall_s"]) for r, b in zip(result["runs"], result["baseline_runs"])) or "-"))
    say("  %-34s %8s s   runs: %s  (%s of the first run; target <= 0.33)" % (
        "rerun wall", result["rerun_wall_s"], ", ".join("%.1f" % r["rerun_wall_s"] for r in result["runs"]),
        result["rerun_share_of_first"]))
    say("  %-34s %8s     runs: %s  (target 0)" % (
        "rerun changed", result["rerun_changed"], ", ".join(str(r["rerun_changed"]) for r in result["runs"])))
    say("  %-34s %8s     runs: %s" % (
        "rerun AWS API requests", result["rerun_api_requests"],
        ", ".join(str(r["rerun_api_requests"]) for r in result["runs"])))
    say()
    say("rerun, per role (last run; requests attributed by time to the task running):")
    say("  %-40s %8s %6s %8s %8s" % ("role (or play)", "requests", "tasks", "changed", "busy s"))
    for label, entry in result["rerun_roles"].items():
        say("  %-40s %8d %6d %8d %8.1f" % (label[:40], entry["requests"], entry["tasks"], entry["changed"],
                                           entry["busy_s"]))
    say("rerun, tasks with the most requests:")
    for entry in result["rerun_top_tasks"]:
        say("  %5d  %s | %s" % (entry["requests"], entry["role"], entry["task"]))
    if result["rerun_changed_tasks"]:
        say("rerun, tasks that changed something:")
        for entry in result["rerun_changed_tasks"]:
            say("  %s | %s" % (entry["role"], entry["task"]))
    baseline_roles = result["baseline_runs"][-1]["roles_busy_s"] if result["baseline_runs"] else {}
    say("first run, per role (last run): busy seconds with delays / without (baseline), from-to seconds:")
    for label, entry in result["first_run_roles"].items():
        if entry["busy_s"] >= 1:
            say("  %-40s %7.1f / %7s   %6.1f - %6.1f" % (
                label[:40], entry["busy_s"], baseline_roles.get(label, "-"), entry["from_s"], entry["to_s"]))
    say("first run, longest tasks:")
    for entry in result["first_run_longest_tasks"]:
        say("  %6.1f s  %s | %s" % (entry["seconds"], entry["role"], entry["task"]))
    targets = result["targets"]
    say()
    say("targets: wall/critical path <= %.2f: %s; rerun changed=0: %s; rerun <= 1/3 of first: %s" % (
        TARGET_RATIO, verdict(targets["ratio_met"]), verdict(targets["rerun_changed_zero"]),
        verdict(targets["rerun_at_most_a_third"])))
    say("written: %s" % result["results_file"])


def verdict(value):
    return {True: "met", False: "NOT met", None: "n/a"}[value]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--delays", default=DEFAULT_DELAYS, type=lambda value: DELAY_PRESETS.get(value, value),
                        help="emulated provisioning seconds (MLOPS_MOTO_DELAYS syntax), or a named set: %s "
                        "(default %%(default)s)" % ", ".join(sorted(DELAY_PRESETS)))
    parser.add_argument("--runs", type=int, default=1, help="measured runs (each: fresh sandbox, first run, "
                        "rerun; and a baseline run); the median is reported")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="no zero-delay baseline run (critical path and serial estimate are then n/a)")
    parser.add_argument("--dir", default=os.path.join(REPO_ROOT, "build", "bench-sandbox"),
                        help="state directory of the benchmark's sandbox (default %(default)s)")
    parser.add_argument("--playbook", default="site.yml")
    parser.add_argument("--inventory", default="inventories/sandbox")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running at the end")
    parser.add_argument("--results", default=RESULTS, help="where the figures go (default %(default)s)")
    parser.add_argument("--report", action="store_true", help="only print the last results (--results) again")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.results) as handle:
            result = json.load(handle)
        result.setdefault("delay_cost_s", delay_cost(result["runs"], result["baseline_runs"]))
        result.setdefault("results_file", args.results)
        report(result)
        return 0
    delays = provisioning_delays.parse(args.delays)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    logdir = os.path.join(args.dir, "logs")
    os.makedirs(logdir, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    started = {"mono": time.monotonic(), "load": list(os.getloadavg()), "commit": git_commit()}
    sandbox = Sandbox(args.dir)
    runs, baselines = [], []
    try:
        for index in range(1, args.runs + 1):
            # Interleaved, so that a change in machine load affects both alike.
            if not args.skip_baseline:
                baselines.append(baseline_run(args, sandbox, index, logdir))
            runs.append(delayed_run(args, sandbox, index, logdir))
    finally:
        if not args.keep:
            sandbox.down()
    result = summarise(args, delays, runs, baselines, started)
    result["results_file"] = args.results
    with open(args.results, "w") as handle:
        json.dump(result, handle, indent=2, sort_keys=False)
        handle.write("\n")
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
