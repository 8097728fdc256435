# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The known_hosts rules of git-sync deploy keys, in one place.

The ``git_deploy_key`` module refuses known_hosts text with :func:`validate_known_hosts`; the
``known_hosts_problems`` filter lists every problem with :func:`known_hosts_problems`, so a role
can refuse the same text in its validation, before any API call. Both read the text with the same
checks: every non-empty, non-comment line must be an entry OpenSSH would load.

Problems name line numbers, never line content: the content is public, but a private key pasted
into the wrong field must not be echoed back.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_material import (
    REFUSE_KNOWN_HOSTS,
    DeployKeyError,
)

_KNOWN_HOSTS_MARKERS = ('@cert-authority', '@revoked')
_KEY_TYPE_RE = re.compile(r'[a-z0-9][a-z0-9.@-]*')
_HASHED_HOST_RE = re.compile(r'\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)')
_BARE_KEY_TYPES = ('ssh-', 'ecdsa-', 'sk-')
_SHA1_SIZE = 20

# Problems of the whole value (not of one line), as known_hosts_problems words them.
PROBLEM_NOT_UTF8 = 'it is not UTF-8 text'
PROBLEM_NOT_TEXT = 'it is not a string'
PROBLEM_PRIVATE_KEY = 'it holds a private key'
PROBLEM_NO_ENTRIES = 'it has no entries'

_EXAMPLE = ("Each entry must look like 'HOSTS KEYTYPE BASE64KEY', for example the output of "
            "'ssh-keyscan -t ed25519 github.com'.")
# The module's wording of the whole-value problems (it names its own options).
_MODULE_MESSAGES = {
    PROBLEM_NOT_UTF8: 'known_hosts is not UTF-8 text.',
    PROBLEM_NOT_TEXT: 'known_hosts must be a string.',
    PROBLEM_PRIVATE_KEY: (
        "known_hosts contains a private key. Put the private key in the key option and the "
        "Git server's public host keys (ssh-keyscan output) in known_hosts."),
    PROBLEM_NO_ENTRIES: (
        "known_hosts has no entries. Provide the Git server's host keys, for example the "
        "output of 'ssh-keyscan -t ed25519 github.com', or leave the option unset."),
}


class _LineProblem(ValueError):
    """One line is not a known_hosts entry; ``problem`` says why, without its content."""

    def __init__(self, problem):
        super().__init__(problem)
        self.problem = problem


def _check(value):
    """Read known_hosts text: (normalised lines, entries, problems).

    A problem is (line number, text), with line number 0 for the whole value. Every line is
    checked, so that a caller can report all of them at once.
    """
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode('utf-8')
        except UnicodeDecodeError:
            return [], 0, [(0, PROBLEM_NOT_UTF8)]
    if not isinstance(value, str):
        return [], 0, [(0, PROBLEM_NOT_TEXT)]
    text = value.replace('\ufeff', '').replace('\r\n', '\n').replace('\r', '\n')
    if 'PRIVATE KEY' in text:
        return [], 0, [(0, PROBLEM_PRIVATE_KEY)]
    lines = [line.strip() for line in text.split('\n')]
    entries = 0
    problems = []
    for lineno, line in enumerate(lines, 1):
        if not line or line.startswith('#'):
            continue
        entries += 1
        try:
            _check_line(line.split())
        except _LineProblem as found:
            problems.append((lineno, found.problem))
    if not entries:
        problems.append((0, PROBLEM_NO_ENTRIES))
    return lines, entries, problems


def known_hosts_problems(value):
    """Every problem of known_hosts text, as short phrases ('line 3: ...'); empty when valid."""
    problems = _check(value)[2]
    return [text if lineno == 0 else 'line {0}: {1}'.format(lineno, text) for lineno, text in problems]


def validate_known_hosts(value):
    """Validate known_hosts text; return (normalised text, number of entries).

    Every non-empty, non-comment line must be an entry OpenSSH would load:
    optional @marker, host patterns or a hashed |1|salt|hash, a key type, and
    base64 key data that decodes to a key blob of that same type. The first
    problem is raised as a DeployKeyError with the reason ``known_hosts``.
    """
    lines, entries, problems = _check(value)
    if problems:
        lineno, text = problems[0]
        if lineno == 0:
            raise DeployKeyError(REFUSE_KNOWN_HOSTS, _MODULE_MESSAGES[text])
        raise DeployKeyError(REFUSE_KNOWN_HOSTS, 'known_hosts line {0}: {1}. {2}'.format(lineno, text, _EXAMPLE))
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return '\n'.join(lines) + '\n', entries


def _check_line(fields):
    if fields[0].startswith('@'):
        if fields[0] not in _KNOWN_HOSTS_MARKERS:
            raise _LineProblem('unknown marker (only @cert-authority and @revoked exist)')
        fields = fields[1:]
    if fields and fields[0].startswith(_BARE_KEY_TYPES) and _KEY_TYPE_RE.fullmatch(fields[0]):
        raise _LineProblem('the host name field is missing (this looks like a bare public key)')
    if len(fields) < 3:
        raise _LineProblem('expected host names, a key type and a base64 key')
    hosts, key_type, key_data = fields[0], fields[1], fields[2]
    _check_hosts_field(hosts)
    if not _KEY_TYPE_RE.fullmatch(key_type):
        raise _LineProblem('the key type field is not a key type')
    try:
        blob = base64.b64decode(key_data, validate=True)
    except (binascii.Error, ValueError):
        raise _LineProblem('the key is not valid base64') from None
    if len(blob) < 4:
        raise _LineProblem('the key is too short')
    length = int.from_bytes(blob[:4], 'big')
    embedded = blob[4:4 + length]
    if length > len(blob) - 4 or embedded.decode('ascii', 'replace') != key_type:
        raise _LineProblem('the key data does not match its key type (damaged or mismatched key)')


def _check_hosts_field(hosts):
    if hosts.startswith('|'):
        match = _HASHED_HOST_RE.fullmatch(hosts)
        if not match:
            raise _LineProblem('the hashed host name is not in |1|salt|hash form')
        for part in match.groups():
            try:
                decoded = base64.b64decode(part, validate=True)
            except (binascii.Error, ValueError):
                raise _LineProblem('the hashed host name is not valid base64') from None
            if len(decoded) != _SHA1_SIZE:
                raise _LineProblem('the hashed host name has the wrong length')
        return
    for pattern in hosts.split(','):
        if not pattern or not pattern.isprintable():
            raise _LineProblem('the host name list has an empty or unprintable entry')
