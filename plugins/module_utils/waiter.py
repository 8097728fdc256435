# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one waiter of mlops.eks_platform's modules: poll until a resource reaches a state.

botocore's waiters have a fixed delay per service and fail without saying why a resource failed;
EKS and EFS both need a poll interval the caller chooses (the roles' ``<role>_wait_interval``), a
timeout in seconds and the reason a resource went into a failed state. Every polling loop of the
collection's module_utils goes through :func:`wait_until`.
"""

from __future__ import annotations

import time

DEFAULT_DELAY = 15


class WaiterError(Exception):
    """A wait that timed out, ran out of attempts or saw the resource fail."""


def wait_until(fetch, done, what, timeout, delay=DEFAULT_DELAY, failed=None, max_attempts=None,
               error=WaiterError, sleep=time.sleep, clock=time.monotonic):
    """Poll ``fetch()`` until ``done(value)`` and return that value. Checks first, then sleeps ``delay``.

    ``failed(value)`` returns why the resource will not get there (raised at once) or None.
    ``error`` is the exception class raised (the caller's own, so that it reaches fail_json like
    any other of its errors); after ``timeout`` seconds, or ``max_attempts`` calls of ``fetch``
    when given, it says that it timed out.
    """
    deadline = clock() + timeout
    attempts = 0
    while True:
        value = fetch()
        attempts += 1
        if done(value):
            return value
        if failed is not None:
            reason = failed(value)
            if reason:
                raise error("%s failed: %s" % (what, reason))
        if clock() >= deadline:
            raise error("Timed out after %ss waiting for %s" % (timeout, what))
        if max_attempts is not None and attempts >= max_attempts:
            raise error("Gave up after %s attempts waiting for %s" % (attempts, what))
        sleep(delay)
