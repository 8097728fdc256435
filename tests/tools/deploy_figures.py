"""What a deploy's AWS request log and task timeline say, for the deploy benchmark (bench/deploy.py).

Pure functions over the emulator's request log (tests/tools/moto_patches/request_log.py) and the
benchmark callback's task events, and the model of the platform's provisioning waits (which
delays chain, which overlap). Shared here so that the benchmark and the test that checks these
figures (tests/integration/test_provisioning_delays.py) import one copy from the import path
instead of from each other.
"""

import collections

from moto_patches import provisioning_delays

DEFAULT_DELAYS = "eks_cluster=60,eks_nodegroup=30,rds_instance=45,efs_file_system=5"
# Named sets for --delays: the default, scaled down about tenfold from AWS, and AWS's own waits at
# the short end of what it takes (control plane 10 min, node group 4, RDS 7, EFS 1; ~17 min a run).
DELAY_PRESETS = {
    "scaled": DEFAULT_DELAYS,
    "aws": "eks_cluster=600,eks_nodegroup=240,rds_instance=420,efs_file_system=60",
}

# Successful create calls that start a delayed resource, by delay key.
CREATES = {
    ("eks", "CreateCluster"): "eks_cluster",
    ("eks", "CreateNodegroup"): "eks_nodegroup",
    ("rds", "CreateDBInstance"): "rds_instance",
    ("efs", "CreateFileSystem"): "efs_file_system",
    ("efs", "CreateMountTarget"): "efs_mount_target",
}


# --------------------------------------------------------------------------------------------
# What the delays imply
# --------------------------------------------------------------------------------------------
def created_resources(requests):
    """How many resources of each delay kind the run created (successful create calls)."""
    counts = collections.Counter()
    for entry in requests:
        kind = CREATES.get((entry.get("service"), entry.get("action")))
        if kind and 200 <= int(entry.get("status") or 0) < 300:
            counts[kind] += 1
    return counts


def delay_figures(delays, counts):
    """(longest chain, serial sum) of the delays for the resources created.

    Dependency graph: network -> EKS control plane -> node groups (all in parallel); RDS
    instances (in parallel) and the EFS file system (-> its mount targets, in parallel) need
    only the network; the applications come after everything and add no AWS delay.
    """
    def d(kind):
        return delays.get(kind, 0.0) if counts.get(kind) else 0.0

    paths = [("eks_cluster", "eks_nodegroup"), ("rds_instance",), ("efs_file_system", "efs_mount_target")]
    chains = []
    for path in paths:
        steps = [kind for kind in path if d(kind) > 0]
        chains.append((sum(d(kind) for kind in steps), " -> ".join(steps) or "-"))
    longest = max(chains, key=lambda chain: chain[0])
    serial = sum(delays.get(kind, 0.0) * counts.get(kind, 0) for kind in provisioning_delays.KINDS)
    return longest[0], longest[1], serial


# --------------------------------------------------------------------------------------------
# Attribution of requests to tasks and roles
# --------------------------------------------------------------------------------------------
def task_windows(timeline):
    """[(start, end, role, task, changed)] from the callback's events, in start order."""
    open_tasks = {}
    windows = []
    for event in timeline:
        if event.get("event") == "task_start":
            open_tasks[event["uuid"]] = event
        elif event.get("event") == "task_end" and event["uuid"] in open_tasks:
            start = open_tasks.pop(event["uuid"])
            windows.append({"start": start["t"], "end": event["t"], "role": start.get("role"),
                            "play": start.get("play"), "task": start.get("task"),
                            "changed": event.get("changed", False), "status": event.get("status")})
    for start in open_tasks.values():  # a task with no result (e.g. skipped for every host)
        windows.append({"start": start["t"], "end": start["t"], "role": start.get("role"), "play": start.get("play"),
                        "task": start.get("task"), "changed": False, "status": "none"})
    windows.sort(key=lambda w: w["start"])
    return windows


def owner_label(window):
    if window is None:
        return "(outside any task)"
    return window["role"] or "(play) %s" % (window["play"] or "?")


def attribute(requests, windows):
    """For each request, the task it belongs to: the latest-started task open at its time, else the
    latest started before it (the gap between a task's result and the next start)."""
    owners = []
    for entry in requests:
        t = entry["t"]
        candidates = [w for w in windows if w["start"] <= t]
        open_now = [w for w in candidates if t <= w["end"] + 0.05]
        owners.append((open_now or candidates or [None])[-1])
    return owners


def busy_seconds(intervals):
    """Length of the union of [start, end] intervals (overlapping tasks count once)."""
    total, start, end = 0.0, None, None
    for low, high in sorted(intervals):
        if start is None or low > end:
            if start is not None:
                total += end - start
            start, end = low, high
        else:
            end = max(end, high)
    if start is not None:
        total += end - start
    return total


def per_role(requests, windows):
    """Per role (or play, for tasks outside roles): requests, tasks, changed tasks, busy seconds
    (the union of its tasks' run times), first start and last end relative to the run's start."""
    roles = collections.OrderedDict()
    origin = windows[0]["start"] if windows else 0.0

    def entry_for(label):
        return roles.setdefault(label, {"requests": 0, "tasks": 0, "changed": 0, "intervals": [],
                                        "actions": collections.Counter()})

    for window in windows:
        entry = entry_for(owner_label(window))
        entry["tasks"] += 1
        entry["changed"] += int(bool(window["changed"]))
        entry["intervals"].append((window["start"], window["end"]))
    for request, owner in zip(requests, attribute(requests, windows)):
        entry = entry_for(owner_label(owner))
        entry["requests"] += 1
        entry["actions"]["%s:%s" % (request.get("service"), request.get("action"))] += 1
    result = collections.OrderedDict()
    for label, entry in roles.items():
        intervals = entry["intervals"]
        result[label] = {
            "requests": entry["requests"], "tasks": entry["tasks"], "changed": entry["changed"],
            "busy_s": round(busy_seconds(intervals), 1),
            "from_s": round(min(s for s, _e in intervals) - origin, 1) if intervals else None,
            "to_s": round(max(e for _s, e in intervals) - origin, 1) if intervals else None,
            "top_actions": dict(entry["actions"].most_common(8)),
        }
    return result


def longest_tasks(windows, top=8):
    ranked = sorted(windows, key=lambda w: w["start"] - w["end"])[:top]
    return [{"seconds": round(w["end"] - w["start"], 1), "role": owner_label(w), "task": w["task"]} for w in ranked]


def per_task(requests, windows, top=10):
    counts = collections.Counter()
    for owner in attribute(requests, windows):
        counts[(owner_label(owner), owner["task"] if owner else "-")] += 1
    return [{"role": r, "task": t, "requests": n} for (r, t), n in counts.most_common(top)]
