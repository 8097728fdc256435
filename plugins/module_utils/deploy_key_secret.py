# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Kubernetes Secret of a git-sync deploy key, planned without API calls.

What the ``git_deploy_key`` module writes: the Secret's ``data`` in the layout the Airflow
chart's git-sync reads, a view of it that never holds key material (for diff mode and for
comparing with what is stored), and the plan (create, replace, delete or nothing) for an
existing Secret. The key itself is repaired and proven by ``deploy_key_material``.
"""

from __future__ import annotations

import base64
import binascii

from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_material import (
    DeployKeyError,
    normalize_private_key,
)

SECRET_KEY_FIELD = 'gitSshKey'
SECRET_KNOWN_HOSTS_FIELD = 'knownHosts'
SECRET_TYPE = 'Opaque'
HIDDEN = '<private key not shown>'


def _b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def secret_data(key, known_hosts=None):
    """The Secret's ``data`` map as the Airflow chart's git-sync expects it."""
    data = {SECRET_KEY_FIELD: _b64(key)}
    if known_hosts:
        data[SECRET_KNOWN_HOSTS_FIELD] = _b64(known_hosts)
    return data


def describe_secret_data(data):
    """A diff-safe view of a Secret's data: fingerprints instead of key bytes."""
    view = {}
    for name, encoded in sorted((data or {}).items()):
        try:
            decoded = base64.b64decode(encoded or '', validate=True).decode('utf-8')
        except (binascii.Error, ValueError):
            view[name] = '<not base64 text>'
            continue
        if name == SECRET_KNOWN_HOSTS_FIELD:
            view[name] = decoded
            continue
        if name != SECRET_KEY_FIELD:
            view[name] = '<{0} bytes, not shown>'.format(len(decoded.encode('utf-8')))
            continue
        try:
            found = normalize_private_key(decoded)
        except DeployKeyError as refusal:
            view[name] = '{0} (unusable: {1})'.format(HIDDEN, refusal.reason)
            continue
        note = '' if found.key == decoded else ', needs repair: ' + ', '.join(found.repairs)
        view[name] = '{0} {1} ({2}{3})'.format(found.key_type, found.fingerprint, HIDDEN, note)
    return view


class SecretConflict(Exception):
    """The named Secret exists in a form this module must not overwrite."""


def plan_secret(existing, name, namespace, data, labels, state='present'):
    """Decide what to do with the Secret; no API calls, so it is unit-testable.

    ``existing`` is the Secret as a dict (or None). Returns a dict with
    ``action`` ('create', 'replace', 'delete' or None), ``body`` for create
    and replace, and ``diff`` with before/after views that never hold key
    material.  Labels are merged: labels set by others (Helm, Argo) stay.
    """
    labels = dict(labels or {})
    before = _secret_view(existing)
    if state == 'absent':
        action = 'delete' if existing else None
        return {'action': action, 'body': None, 'diff': {'before': before, 'after': {}}}

    if existing and existing.get('type', SECRET_TYPE) != SECRET_TYPE:
        raise SecretConflict(
            "Secret {0}/{1} exists with type '{2}', but git-sync needs an 'Opaque' Secret and the "
            "type of a Secret cannot be changed. Delete it or choose another name.".format(
                namespace, name, existing.get('type')))

    if existing:
        metadata = dict(existing.get('metadata') or {})
        current_labels = dict(metadata.get('labels') or {})
        merged_labels = dict(current_labels, **labels)
        unchanged = (existing.get('data') or {}) == data and merged_labels == current_labels
        body = {
            'apiVersion': 'v1',
            'kind': 'Secret',
            'type': SECRET_TYPE,
            'metadata': dict(metadata, labels=merged_labels),
            'data': data,
        }
        action = None if unchanged else 'replace'
    else:
        metadata = {'name': name, 'namespace': namespace}
        if labels:
            metadata['labels'] = labels
        body = {'apiVersion': 'v1', 'kind': 'Secret', 'type': SECRET_TYPE, 'metadata': metadata, 'data': data}
        action = 'create'
    return {
        'action': action,
        'body': body,
        'diff': {'before': before, 'after': _secret_view(body)},
    }


def _secret_view(secret):
    if not secret:
        return {}
    metadata = secret.get('metadata') or {}
    return {
        'name': metadata.get('name'),
        'namespace': metadata.get('namespace'),
        'labels': dict(metadata.get('labels') or {}),
        'type': secret.get('type', SECRET_TYPE),
        'data': describe_secret_data(secret.get('data')),
    }
