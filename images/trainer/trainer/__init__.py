"""Steps of the example MLOps pipeline (examples/dags/), logging to MLflow.

``python -m trainer preprocess`` splits a dataset that ships with scikit-learn (no download),
checks it and logs both halves to an MLflow run. ``train`` fits a classifier on that run's
training half and logs the model to a run of its own: nothing is registered. ``evaluate``
scores the model and the current ``champion`` on the held-out half and records the quality
gate's verdict on the train run. ``register`` turns the run's model into a new registered
model version and points the ``champion`` alias at it, only when the gate passed (accuracy at
least ``--min-accuracy`` and not worse than the champion); otherwise it registers nothing,
leaves the alias alone and exits 3. Every step prints one JSON object (and can write it where
Airflow's KubernetesPodOperator reads XCom).
"""

__version__ = "0.2.0"
