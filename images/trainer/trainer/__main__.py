"""Command line: ``python -m trainer {train,evaluate} ...``; MLflow is found via MLFLOW_TRACKING_URI."""

import argparse
import json
import os
import sys

XCOM_PATH = "/airflow/xcom/return.json"


def _common(parser):
    parser.add_argument("--experiment", default=os.environ.get("MLFLOW_EXPERIMENT_NAME", "mlops-example"))
    parser.add_argument("--model-name", default=os.environ.get("MODEL_NAME", "wine-classifier"))
    parser.add_argument("--dataset", default="wine", choices=["wine", "breast_cancer", "iris"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--xcom", action="store_true",
                        help="also write the result to %s (KubernetesPodOperator do_xcom_push)" % XCOM_PATH)


def parse(argv):
    parser = argparse.ArgumentParser(prog="trainer", description=__doc__)
    steps = parser.add_subparsers(dest="step", required=True)
    train = steps.add_parser("train", help="fit, log and register a new model version")
    _common(train)
    train.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    train.add_argument("--max-iter", type=int, default=1000)
    train.add_argument("--alias", default="challenger")
    evaluate = steps.add_parser("evaluate", help="score the challenger and promote it when it wins")
    _common(evaluate)
    evaluate.add_argument("--candidate-alias", default="challenger")
    evaluate.add_argument("--champion-alias", default="champion")
    evaluate.add_argument("--min-accuracy", type=float, default=0.8)
    evaluate.add_argument("--no-promote", dest="promote", action="store_false")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("trainer: MLFLOW_TRACKING_URI is not set (for example http://mlflow.mlflow:5000)")
    common = dict(experiment=args.experiment, model_name=args.model_name, dataset=args.dataset, seed=args.seed,
                  test_size=args.test_size)
    if args.step == "train":
        from trainer.train import train
        result = train(c=args.c, max_iter=args.max_iter, alias=args.alias, **common)
    else:
        from trainer.evaluate import evaluate
        result = evaluate(candidate_alias=args.candidate_alias, champion_alias=args.champion_alias,
                          min_accuracy=args.min_accuracy, promote=args.promote, **common)
    text = json.dumps(result, sort_keys=True)
    if args.xcom:
        os.makedirs(os.path.dirname(XCOM_PATH), exist_ok=True)
        with open(XCOM_PATH, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
