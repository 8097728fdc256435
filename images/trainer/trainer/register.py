"""Register a trained model as a new version only when it passed the quality gate.

``register`` is the only step that writes to the model registry. It reads the evaluation
``evaluate`` recorded on the train run and applies the gate again with its own threshold:

* not evaluated, below ``min_accuracy``, worse than the champion it was compared with, or the
  champion moved since the evaluation: nothing is registered and the alias stays where it is;
* otherwise the run's model becomes a new version of ``model_name`` and the alias (``champion``)
  points at it. MLflow's stages are deprecated; aliases are how a version is promoted.

Registering a run twice (a retried task) returns the version it already created.
"""

import mlflow
from mlflow import MlflowClient

from trainer.evaluate import TAG_ACCURACY, TAG_CHAMPION, TAG_CHAMPION_ACCURACY, alias_version, quality_gate, training_run

TAG_REGISTERED = "trainer.registered_version"


def register(run_id, model_name, alias="champion", min_accuracy=0.9):
    client = MlflowClient()
    run, dummy, model_uri = training_run(client, run_id)
    tags = run.data.tags
    accuracy = float(tags[TAG_ACCURACY]) if tags.get(TAG_ACCURACY) else None
    champion_accuracy = float(tags[TAG_CHAMPION_ACCURACY]) if tags.get(TAG_CHAMPION_ACCURACY) else None
    current = alias_version(client, model_name, alias)
    result = {
        "step": "register",
        "run_id": run_id,
        "model_name": model_name,
        "model_uri": model_uri,
        "alias": alias,
        "accuracy": accuracy,
        "min_accuracy": min_accuracy,
        "previous_version": current,
        "model_version": None,
        "registered": False,
        "promoted": False,
    }

    already = tags.get(TAG_REGISTERED)
    evaluated_against = tags.get(TAG_CHAMPION) or None
    if already is None:
        if accuracy is None:
            return dict(result, reason="run %s has not been evaluated: run `trainer evaluate --run-id %s` first"
                        % (run_id, run_id))
        if current != evaluated_against:
            return dict(result, reason="the %s alias moved from version %s to %s since the evaluation: evaluate again"
                        % (alias, evaluated_against, current))
        passed, reason = quality_gate(accuracy, min_accuracy, champion_accuracy)
        if not passed:
            client.set_tag(run_id, "trainer.register.refused", reason)
            return dict(result, reason=reason)
        version = mlflow.register_model(model_uri, model_name, tags={
            "run_id": run_id, "eval_accuracy": repr(accuracy), "min_accuracy": repr(min_accuracy),
            "validation_status": "passed"}).version
        client.set_tag(run_id, TAG_REGISTERED, version)
    elif current not in (already, evaluated_against):
        # Registered by an earlier attempt, and another version was promoted since: keep it.
        return dict(result, registered=True, model_version=already,
                    reason="already registered as version %s; %s is now version %s and stays" % (already, alias, current))
    else:
        version, reason = already, "already registered as version %s" % already
    client.set_registered_model_alias(model_name, alias, version)
    return dict(result, registered=True, promoted=True, model_version=str(version), reason=reason,
                model_uri_alias="models:/%s@%s" % (model_name, alias))
