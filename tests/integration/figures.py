# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The figures a reliability or security test prints (counts, seconds), shown on the terminal
even while pytest captures output, so `make test` reports them."""


def write_figures(request, lines):
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None or reporter is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        for line in lines:
            reporter.write_line(line)
