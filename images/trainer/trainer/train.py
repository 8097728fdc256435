"""Fit a classifier on a ``preprocess`` run's training split and log it to MLflow.

Nothing is registered here: a model version only enters the registry through
``trainer register``, after ``trainer evaluate`` found it good enough.
"""

import math
from importlib.metadata import version

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trainer.data import load_prepared, preprocess

# Run tags through which evaluate and register find what train produced.
TAG_DATA_RUN = "trainer.data_run_id"
TAG_MODEL_URI = "trainer.model_uri"
# What the logged model needs, pinned to the versions that trained it (the image's); naming
# them saves MLflow from inferring them in a subprocess, the slowest part of log_model.
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


def train(experiment, data_run_id=None, dataset="wine", c=1.0, max_iter=1000, seed=42, test_size=0.25,
          train_fraction=1.0):
    """Standardise the features, fit a logistic regression, log the pipeline as the run's model.

    Without ``data_run_id`` the data is prepared first (a ``preprocess`` run of its own).
    A linear model keeps the example fast and lets MLflow store it in its default ``skops``
    format with nothing but trusted types (tree ensembles would need an explicit trust list).
    """
    if not math.isfinite(c) or c <= 0:
        raise ValueError("--c must be a positive number, not %r" % c)
    if data_run_id is None:
        data_run_id = preprocess(experiment, dataset=dataset, seed=seed, test_size=test_size,
                                 train_fraction=train_fraction)["run_id"]
    data_run = mlflow.MlflowClient().get_run(data_run_id)
    dataset = data_run.data.params.get("dataset", dataset)
    X_train, y_train = load_prepared(data_run_id, "train")
    params = dict(dataset=dataset, model="StandardScaler+LogisticRegression", C=c, max_iter=max_iter, seed=seed,
                  n_features=X_train.shape[1], n_train=len(X_train), data_run_id=data_run_id)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="train-%s" % dataset) as run:
        mlflow.set_tags({"pipeline.step": "train", "dataset": dataset, TAG_DATA_RUN: data_run_id})
        mlflow.log_params(params)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter, random_state=seed))
        model.fit(X_train, y_train)
        predicted = model.predict(X_train)
        metrics = {"train_accuracy": float(accuracy_score(y_train, predicted))}
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(X_train, predicted), input_example=X_train.head(3),
            pip_requirements=["%s==%s" % (name, version(name)) for name in MODEL_REQUIREMENTS])
        mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
    return {
        "step": "train",
        "run_id": run.info.run_id,
        "experiment": experiment,
        "data_run_id": data_run_id,
        "model_uri": info.model_uri,
        "params": {"C": c, "max_iter": max_iter, "seed": seed},
        "metrics": metrics,
    }
