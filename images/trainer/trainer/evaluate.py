"""Score a registered model version, compare it with the champion, promote it when it wins."""

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import accuracy_score, f1_score

from trainer.data import load_split


def _score(model_uri, X_test, y_test):
    predicted = mlflow.sklearn.load_model(model_uri).predict(X_test)
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro")),
    }


def _alias_version(client, model_name, alias):
    try:
        return client.get_model_version_by_alias(model_name, alias).version
    except MlflowException:
        return None


def evaluate(experiment, model_name, candidate_alias="challenger", champion_alias="champion", dataset="wine",
             seed=42, test_size=0.25, min_accuracy=0.8, promote=True):
    client = MlflowClient()
    candidate = _alias_version(client, model_name, candidate_alias)
    if candidate is None:
        raise SystemExit("model %s has no version with the alias %s: run `trainer train` first"
                         % (model_name, candidate_alias))
    champion = _alias_version(client, model_name, champion_alias)
    X_train, X_test, y_train, y_test, dummy = load_split(dataset, test_size=test_size, seed=seed)

    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="evaluate-%s-v%s" % (model_name, candidate)) as run:
        mlflow.set_tags({"pipeline.step": "evaluate", "dataset": dataset,
                         "model_name": model_name, "model_version": candidate})
        scores = _score("models:/%s/%s" % (model_name, candidate), X_test, y_test)
        mlflow.log_metrics({"candidate_" + k: v for k, v in scores.items()})
        champion_scores = None
        if champion is not None and champion != candidate:
            champion_scores = _score("models:/%s/%s" % (model_name, champion), X_test, y_test)
            mlflow.log_metrics({"champion_" + k: v for k, v in champion_scores.items()})
        good_enough = scores["accuracy"] >= min_accuracy
        better = champion_scores is None or scores["accuracy"] >= champion_scores["accuracy"]
        promoted = bool(promote and good_enough and better and champion != candidate)
        if promoted:
            client.set_registered_model_alias(model_name, champion_alias, candidate)
        mlflow.log_metric("promoted", 1.0 if promoted else 0.0)
    return {
        "step": "evaluate",
        "run_id": run.info.run_id,
        "model_name": model_name,
        "candidate_version": candidate,
        "champion_version": candidate if promoted else champion,
        "previous_champion_version": champion,
        "scores": scores,
        "champion_scores": champion_scores,
        "min_accuracy": min_accuracy,
        "promoted": promoted,
    }
