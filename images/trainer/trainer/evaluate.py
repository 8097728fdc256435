"""Score a trained model on the held-out split and decide the quality gate.

``evaluate`` changes nothing in the model registry: it scores the model of a ``train`` run on
the test split its ``preprocess`` run wrote, scores the current champion on the same rows,
and records the scores and the gate's verdict on the train run (metrics ``eval_*`` for the UI, tags
``trainer.eval.*``, which ``register`` reads back).
"""

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import accuracy_score, f1_score

from trainer.data import load_prepared
from trainer.train import TAG_DATA_RUN, TAG_MODEL_URI

TAG_CHAMPION = "trainer.eval.champion_version"
TAG_PASSED = "trainer.eval.passed"
TAG_REASON = "trainer.eval.reason"
TAG_MIN_ACCURACY = "trainer.eval.min_accuracy"
# The verdict's inputs as tags too: a tag holds the latest evaluation only, where a metric
# left from an earlier evaluation would linger.
TAG_ACCURACY = "trainer.eval.accuracy"
TAG_CHAMPION_ACCURACY = "trainer.eval.champion_accuracy"


def score(model_uri, X_test, y_test):
    predicted = mlflow.sklearn.load_model(model_uri).predict(X_test)
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro")),
    }


def alias_version(client, model_name, alias):
    """The version the alias points at, or None (no such model or alias). Any other error
    (the server unreachable, ...) is raised: "no champion" must not be a guess."""
    try:
        return client.get_model_version_by_alias(model_name, alias).version
    except MlflowException as error:
        # What MLflow answers for an unknown model and for an unknown alias of a known model.
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def quality_gate(accuracy, min_accuracy, champion_accuracy=None):
    """``(passed, reason)``: at least ``min_accuracy`` and not worse than the champion."""
    if accuracy < min_accuracy:
        return False, "accuracy %.4f is below the threshold %.4f" % (accuracy, min_accuracy)
    if champion_accuracy is not None and accuracy < champion_accuracy:
        return False, "accuracy %.4f is below the champion's %.4f" % (accuracy, champion_accuracy)
    return True, "accuracy %.4f >= threshold %.4f%s" % (
        accuracy, min_accuracy, "" if champion_accuracy is None else " and >= the champion's %.4f" % champion_accuracy)


def training_run(client, run_id):
    """The train run and the data run and model URI it recorded."""
    run = client.get_run(run_id)
    tags = run.data.tags
    if TAG_MODEL_URI not in tags or TAG_DATA_RUN not in tags:
        raise SystemExit("run %s is not a `trainer train` run (no %s/%s tags)" % (run_id, TAG_MODEL_URI, TAG_DATA_RUN))
    return run, tags[TAG_DATA_RUN], tags[TAG_MODEL_URI]


def evaluate(run_id, model_name, champion_alias="champion", min_accuracy=0.9):
    client = MlflowClient()
    dummy, data_run_id, model_uri = training_run(client, run_id)
    X_test, y_test = load_prepared(data_run_id, "test")
    scores = score(model_uri, X_test, y_test)

    champion = alias_version(client, model_name, champion_alias)
    champion_scores = None
    if champion is not None:
        try:
            champion_scores = score("models:/%s/%s" % (model_name, champion), X_test, y_test)
        except (ValueError, KeyError) as error:
            # A champion trained on other features cannot be compared on these rows (scikit-learn
            # refuses them); the threshold alone decides, and the result says why. Failing to
            # load the champion (MlflowException) fails the step instead.
            champion_scores = {"error": str(error)[:300]}
    champion_accuracy = champion_scores.get("accuracy") if champion_scores else None
    passed, reason = quality_gate(scores["accuracy"], min_accuracy, champion_accuracy)

    for key, value in scores.items():
        client.log_metric(run_id, "eval_" + key, value)
    if champion_accuracy is not None:
        client.log_metric(run_id, "eval_champion_accuracy", champion_accuracy)
    for key, value in {TAG_PASSED: str(passed).lower(), TAG_REASON: reason, TAG_MIN_ACCURACY: repr(min_accuracy),
                       TAG_CHAMPION: champion or "", TAG_ACCURACY: repr(scores["accuracy"]),
                       TAG_CHAMPION_ACCURACY: "" if champion_accuracy is None else repr(champion_accuracy)}.items():
        client.set_tag(run_id, key, value)
    return {
        "step": "evaluate",
        "run_id": run_id,
        "model_name": model_name,
        "model_uri": model_uri,
        "scores": scores,
        "champion_alias": champion_alias,
        "champion_version": champion,
        "champion_scores": champion_scores,
        "min_accuracy": min_accuracy,
        "passed": passed,
        "reason": reason,
    }
