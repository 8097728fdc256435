# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one waiter (plugins/module_utils/waiter.py) that the EKS and EFS code polls with."""

from __future__ import annotations

import pytest

from ansible_collections.mlops.eks_platform.plugins.module_utils.efs import api as efs_api
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs import resources as efs_resources
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import common as eks_common
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks import waiters as eks_waiters
from ansible_collections.mlops.eks_platform.plugins.module_utils import waiter


class Clock:
    """A monotonic clock that only moves when the waiter sleeps."""

    def __init__(self):
        self.now = 0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def answers(*values):
    pending = list(values)
    return lambda: pending.pop(0)


def test_checks_first_and_returns_the_value_without_sleeping():
    clock = Clock()
    assert waiter.wait_until(answers("ACTIVE"), lambda v: v == "ACTIVE", "x", 60, sleep=clock.sleep,
                             clock=clock.clock) == "ACTIVE"
    assert clock.sleeps == []


def test_sleeps_the_configured_interval_between_polls():
    clock = Clock()
    value = waiter.wait_until(answers("CREATING", "CREATING", "ACTIVE"), lambda v: v == "ACTIVE", "x", 60, delay=7,
                              sleep=clock.sleep, clock=clock.clock)
    assert value == "ACTIVE" and clock.sleeps == [7, 7]


def test_default_interval():
    clock = Clock()
    waiter.wait_until(answers(1, 2), lambda v: v == 2, "x", 60, sleep=clock.sleep, clock=clock.clock)
    assert clock.sleeps == [waiter.DEFAULT_DELAY] == [eks_waiters.DEFAULT_DELAY]


def test_times_out_after_timeout_seconds():
    clock = Clock()
    with pytest.raises(waiter.WaiterError, match="^Timed out after 30s waiting for the thing$"):
        waiter.wait_until(lambda: "x", lambda v: False, "the thing", 30, delay=10, sleep=clock.sleep,
                          clock=clock.clock)
    assert clock.sleeps == [10, 10, 10]


def test_gives_up_after_max_attempts():
    clock = Clock()
    calls = []

    def fetch():
        calls.append(1)
        return "x"
    with pytest.raises(waiter.WaiterError, match="^Gave up after 3 attempts waiting for the thing$"):
        waiter.wait_until(fetch, lambda v: False, "the thing", 3600, delay=1, max_attempts=3, sleep=clock.sleep,
                          clock=clock.clock)
    assert len(calls) == 3 and clock.sleeps == [1, 1]


def test_a_failed_resource_stops_the_wait_with_its_reason_in_the_callers_error():
    clock = Clock()
    with pytest.raises(eks_common.EksError, match="^cluster x failed: status FAILED$"):
        waiter.wait_until(answers("CREATING", "FAILED"), lambda v: v == "ACTIVE", "cluster x", 60,
                          failed=lambda v: "status FAILED" if v == "FAILED" else None, error=eks_common.EksError,
                          sleep=clock.sleep, clock=clock.clock)
    assert clock.sleeps == [waiter.DEFAULT_DELAY]


def test_eks_waits_go_through_the_waiter():
    clock = Clock()
    with pytest.raises(eks_common.EksError, match="Timed out after 20s waiting for y"):
        eks_waiters.wait_until(lambda: None, lambda v: False, "y", 20, delay=5, sleep=clock.sleep, clock=clock.clock)
    assert clock.sleeps == [5, 5, 5, 5]


class FakeModule:
    def client(self, *args, **kwargs):
        return None


def test_efs_waits_every_poll_delay_and_raises_efs_error():
    clock = Clock()
    client = efs_api.EfsClient(FakeModule(), poll_delay=2, sleep=clock.sleep, clock=clock.clock)
    states = answers(False, False, True)
    client._wait("the mount targets", states, 60)  # pylint: disable=protected-access
    assert clock.sleeps == [2, 2]
    with pytest.raises(efs_resources.EfsError, match="Timed out after 5s waiting for access point fsap-1"):
        client._wait("access point fsap-1", lambda: False, 5)  # pylint: disable=protected-access
    assert clock.sleeps == [2, 2, 2, 2, 2]


def test_efs_polls_every_five_seconds_by_default():
    assert efs_api.EfsClient(FakeModule()).poll_delay == efs_api.POLL_DELAY == 5
