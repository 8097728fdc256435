"""Training and evaluation steps of the example MLOps pipeline, logging to MLflow.

``python -m trainer train`` fits a scikit-learn classifier on a dataset that ships with
scikit-learn (no download), logs parameters, metrics and the model to MLflow and registers a
new model version under the alias ``challenger``. ``python -m trainer evaluate`` scores that
version on the held-out split, compares it with the ``champion`` and moves the ``champion``
alias to it when it is at least as good and above a threshold. Both print one JSON object
(and can write it where Airflow's KubernetesPodOperator reads XCom).
"""

__version__ = "0.1.0"
