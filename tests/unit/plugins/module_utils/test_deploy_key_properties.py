# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Damaged keys must come back as keys OpenSSH itself accepts.

Real ``ssh-keygen -y`` is the oracle: whatever the normaliser returns must
be a file from which OpenSSH derives the same public key as the original.
Two tests: an exhaustive, deterministic sweep (every key kind x no damage,
each single damage and a fixed set of realistic pairs) whose tally is
printed at the end of the run, and a hypothesis test over arbitrary
combinations of damages.
"""

from __future__ import annotations

import collections
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.mlops.eks_platform.plugins.module_utils import deploy_key_material as dk

try:
    from .keyfactory import (
        DAMAGE_ORDER, DAMAGE_PAIRS, DAMAGES, HAVE_SSH_KEYGEN, KINDS, POOL_SIZE, apply_damages, compatible,
        kind_id, oracle_public_key, pristine, public_line,
    )
except ImportError:  # collected without package context (plain pytest, rootdir-relative)
    from keyfactory import (
        DAMAGE_ORDER, DAMAGE_PAIRS, DAMAGES, HAVE_SSH_KEYGEN, KINDS, POOL_SIZE, apply_damages, compatible,
        kind_id, oracle_public_key, pristine, public_line,
    )

pytestmark = pytest.mark.skipif(not HAVE_SSH_KEYGEN, reason='OpenSSH ssh-keygen (the oracle) not installed')

# Damages whose repair is reported whenever they changed the text, whatever
# they are combined with. Whitespace-type damages can mask one another
# (an added blank line can stand in for a removed final newline), so they
# are checked for output correctness only.
ALWAYS_REPORTED = {'crlf', 'cr', 'escaped_newlines', 'double_quotes', 'single_quotes', 'json_secret',
                   'base64_layer', 'utf8_bom'}

COMBOS = [()] + [(name,) for name in DAMAGE_ORDER] + [tuple(pair) for pair in DAMAGE_PAIRS]

TALLY = collections.Counter()


def expected_key(algorithm, fmt, index=0):
    """What OpenSSH wants: the pristine file, or its OpenSSH form for PEM Ed25519."""
    text = pristine(algorithm, fmt, index)
    if (algorithm, fmt) == ('ed25519', 'pkcs8'):
        return dk.normalize_private_key(text).key
    return text


def check(algorithm, fmt, index, damages):
    original = pristine(algorithm, fmt, index)
    damaged = original
    effective, reported = set(), set()
    for name in DAMAGE_ORDER:
        if name in damages:
            before, damaged = damaged, DAMAGES[name][0](damaged)
            if damaged != before:
                # Some damages are no-ops on some keys (a one-line PEM body
                # cannot be collapsed) or after another (no newline is left).
                effective.add(name)
                if name in ALWAYS_REPORTED:
                    reported.add(DAMAGES[name][1])
    assert damaged == apply_damages(original, damages)
    result = dk.normalize_private_key(damaged)
    assert set(result.repairs) <= set(dk.REPAIRS)
    assert reported <= set(result.repairs), (damages, result.repairs)
    assert result.key == expected_key(algorithm, fmt, index), 'not byte-exact'
    assert oracle_public_key(result.key) == public_line(algorithm, index), 'ssh-keygen disagrees'
    return result, effective


@pytest.fixture(scope='module')
def tally(request):
    yield TALLY
    reporter = request.config.pluginmanager.getplugin('terminalreporter')
    lines = [
        'deploy_key exhaustive sweep: {0} key/damage combinations tried ({1} key kinds x {2} damage sets), '
        '{3} normalised to a key ssh-keygen accepts with the original public key, {4} failed'.format(
            TALLY['exhaustive'], len(KINDS), len(COMBOS), TALLY['exhaustive_ok'],
            TALLY['exhaustive'] - TALLY['exhaustive_ok']),
        'deploy_key hypothesis: {0} generated key/damage combinations tried, {1} passed the ssh-keygen '
        'oracle'.format(TALLY['hypothesis'], TALLY['hypothesis_ok']),
    ]
    # Teardown runs under output capture; the tally is for the person running
    # the suite, so it goes straight to the terminal.
    capture = request.config.pluginmanager.getplugin('capturemanager')
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if reporter is not None:
            reporter.write('\n')
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line)


@pytest.mark.parametrize('damages', COMBOS, ids=lambda combo: '+'.join(combo) or 'undamaged')
@pytest.mark.parametrize('kind', KINDS, ids=kind_id)
def test_exhaustive_damage_is_repaired_to_what_openssh_accepts(kind, damages, tally):
    tally['exhaustive'] += 1
    result, effective = check(kind[0], kind[1], 0, damages)
    for name in effective:
        assert DAMAGES[name][1] in result.repairs, (name, result.repairs)
    if not damages and kind != ('ed25519', 'pkcs8'):
        assert result.repairs == []
    tally['exhaustive_ok'] += 1


def test_exhaustive_sweep_size():
    assert len(COMBOS) == 1 + len(DAMAGES) + len(DAMAGE_PAIRS)
    assert all(compatible(combo) for combo in COMBOS)


damage_sets = st.sets(st.sampled_from(DAMAGE_ORDER), max_size=6).filter(compatible)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), index=st.integers(0, POOL_SIZE - 1), damages=damage_sets)
def test_property_any_combination_of_damage_is_repaired(kind, index, damages, tally):
    tally['hypothesis'] += 1
    check(kind[0], kind[1], index, damages)
    tally['hypothesis_ok'] += 1
