"""The example datasets and the ``preprocess`` step.

The datasets ship with scikit-learn, so nothing is downloaded. ``preprocess`` splits one
(stratified, seeded), checks it and stores both halves as CSV artifacts of an MLflow run:
the pipeline's pods run on different nodes and share nothing but MLflow, so ``train`` and
``evaluate`` read exactly the rows ``preprocess`` wrote, by run id.
"""

import hashlib
import os
import tempfile

import mlflow
import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

LOADERS = {
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
}
TARGET = "target"
DATA_DIR = "data"


def load_split(name="wine", test_size=0.25, seed=42, train_fraction=1.0):
    """``(X_train, X_test, y_train, y_test, feature_names)``, a stratified, seeded split.

    ``train_fraction`` < 1 keeps only that (stratified) share of the training half, for
    experiments with less data; the test half is never reduced.
    """
    if name not in LOADERS:
        raise ValueError("unknown dataset %r (choose from %s)" % (name, ", ".join(sorted(LOADERS))))
    if not 0 < test_size < 1:
        raise ValueError("test_size must be between 0 and 1, not %r" % test_size)
    if not 0 < train_fraction <= 1:
        raise ValueError("train_fraction must be in (0, 1], not %r" % train_fraction)
    bunch = LOADERS[name](as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_size, random_state=seed, stratify=bunch.target)
    if train_fraction < 1:
        X_train, dummy_x, y_train, dummy_y = train_test_split(
            X_train, y_train, train_size=train_fraction, random_state=seed, stratify=y_train)
    return X_train, X_test, y_train, y_test, list(bunch.feature_names)


def _frame(X, y):
    frame = X.copy()
    frame[TARGET] = y.values
    return frame.reset_index(drop=True)


def _check(frame, what):
    """Refuse data a model must not be trained or judged on: empty, missing values, one class."""
    if frame.empty:
        raise ValueError("%s split is empty" % what)
    missing = int(frame.isna().sum().sum())
    if missing:
        raise ValueError("%s split has %d missing values" % (what, missing))
    if frame[TARGET].nunique() < 2:
        raise ValueError("%s split has fewer than two classes" % what)


def preprocess(experiment, dataset="wine", seed=42, test_size=0.25, train_fraction=1.0):
    """Split, check and log the data as ``data/train.csv`` and ``data/test.csv`` of a new run."""
    X_train, X_test, y_train, y_test, features = load_split(dataset, test_size=test_size, seed=seed,
                                                            train_fraction=train_fraction)
    train, test = _frame(X_train, y_train), _frame(X_test, y_test)
    _check(train, "the training")
    _check(test, "the test")
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="preprocess-%s" % dataset) as run, tempfile.TemporaryDirectory() as tmp:
        digest = hashlib.sha256()
        for name, frame in (("train.csv", train), ("test.csv", test)):
            path = os.path.join(tmp, name)
            frame.to_csv(path, index=False)
            with open(path, "rb") as handle:
                digest.update(handle.read())
        mlflow.set_tags({"pipeline.step": "preprocess", "dataset": dataset, "data.sha256": digest.hexdigest()})
        mlflow.log_params(dict(dataset=dataset, seed=seed, test_size=test_size, train_fraction=train_fraction,
                               n_train=len(train), n_test=len(test), n_features=len(features),
                               n_classes=int(train[TARGET].nunique())))
        mlflow.log_artifacts(tmp, artifact_path=DATA_DIR)
    return {
        "step": "preprocess",
        "run_id": run.info.run_id,
        "experiment": experiment,
        "dataset": dataset,
        "data_uri": "runs:/%s/%s" % (run.info.run_id, DATA_DIR),
        "data_sha256": digest.hexdigest(),
        "n_train": len(train),
        "n_test": len(test),
        "n_features": len(features),
    }


def load_prepared(data_run_id, split):
    """``(X, y)`` of the ``train`` or ``test`` split a ``preprocess`` run logged."""
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=data_run_id, artifact_path="%s/%s.csv" % (DATA_DIR, split),
                                                   dst_path=tmp)
        frame = pd.read_csv(path)
    return frame.drop(columns=[TARGET]), frame[TARGET]
