# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the integration tier: the shared site.yml run (site_capture.py).

test_secrets_scan.py, test_static_security.py, test_teardown_clean.py, test_site_overlap.py and
test_site_rerun.py all read one deployment of the whole platform, its rerun and its teardown:
one run of some minutes per pytest session instead of one per file.
"""

import collections.abc

import pytest

import site_capture


class SiteRun(collections.abc.Mapping):
    """The capture of the shared run (site_capture.capture()), read as a dict.

    When the run failed, reading any part of it calls pytest.fail naming the shared run. The
    fixture itself never raises: a failed run then shows as a failure of each test that reads
    it, in the test's own body, not as an error in the setup of a fixture.
    """

    def __init__(self, capture=None, error=None):
        self._capture = capture
        self.error = error

    def _value(self):
        if self.error is not None:
            pytest.fail("the shared site.yml run (tests/integration/site_capture.py) failed: %s" % self.error)
        return self._capture

    def __getitem__(self, key):
        return self._value()[key]

    def __iter__(self):
        return iter(self._value())

    def __len__(self):
        return len(self._value())


@pytest.fixture(scope="session")
def site_run():
    """site.yml -vvv on a sandbox of its own, its rerun and teardown.yml, run once per session
    (by the first test that asks) and kept, failure included, for every test after it."""
    try:
        return SiteRun(capture=site_capture.capture())
    except Exception as exc:  # pylint: disable=broad-except  # any failure of the run fails its readers
        return SiteRun(error="%s: %s" % (type(exc).__name__, exc))
