"""Fit a classifier, log it to MLflow and register it as a new version (alias ``challenger``)."""

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trainer.data import load_split


def train(experiment, model_name, dataset="wine", c=1.0, max_iter=1000, seed=42, test_size=0.25,
          alias="challenger"):
    """Standardise the features, fit a logistic regression, log and register the pipeline.

    A linear model keeps the example fast and lets MLflow store it in its default ``skops``
    format with nothing but trusted types (tree ensembles would need an explicit trust list).
    """
    X_train, X_test, y_train, y_test, features = load_split(dataset, test_size=test_size, seed=seed)
    params = dict(dataset=dataset, model="StandardScaler+LogisticRegression", C=c, max_iter=max_iter, seed=seed,
                  test_size=test_size, n_features=len(features), n_train=len(X_train))
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="train-%s" % dataset) as run:
        mlflow.set_tags({"pipeline.step": "train", "dataset": dataset})
        mlflow.log_params(params)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter, random_state=seed))
        model.fit(X_train, y_train)
        predicted = model.predict(X_test)
        metrics = {
            "train_accuracy": float(accuracy_score(y_train, model.predict(X_train))),
            "test_accuracy": float(accuracy_score(y_test, predicted)),
            "test_f1_macro": float(f1_score(y_test, predicted, average="macro")),
        }
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name=model_name,
            signature=infer_signature(X_test, predicted), input_example=X_test.head(3))
        version = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(model_name, alias, version)
    return {
        "step": "train",
        "run_id": run.info.run_id,
        "experiment": experiment,
        "model_name": model_name,
        "model_version": version,
        "model_uri": "models:/%s/%s" % (model_name, version),
        "alias": alias,
        "metrics": metrics,
    }
