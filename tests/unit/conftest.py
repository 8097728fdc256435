"""Fixtures of the unit tier."""

import pytest

from airflow_cases import render_cases


@pytest.fixture(scope="session")
def airflow_rendered(tmp_path_factory, ansible_env, run_cmd):
    """Every airflow_helm values combination rendered once by the role's own tasks:
    ({case name: chart values}, {inline-secret guard: outcome}); see airflow_cases.py."""
    return render_cases(str(tmp_path_factory.mktemp("airflow-values")), ansible_env, run_cmd)
