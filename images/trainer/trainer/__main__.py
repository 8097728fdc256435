"""Command line: ``python -m trainer {preprocess,train,evaluate,register} ...``.

MLflow is found through MLFLOW_TRACKING_URI. Every step prints one JSON object as its last
line (and with ``--xcom`` writes it where Airflow's KubernetesPodOperator reads XCom).
Exit status: 0 done; 2 bad usage; 3 ``register`` refused the model (the JSON says why).
"""

import argparse
import json
import os
import sys

# Where the KubernetesPodOperator's sidecar reads the result (TRAINER_XCOM_FILE overrides it, for tests).
XCOM_PATH = os.environ.get("TRAINER_XCOM_FILE", "/airflow/xcom/return.json")
EXIT_REFUSED = 3


def _common(parser):
    parser.add_argument("--experiment", default=os.environ.get("MLFLOW_EXPERIMENT_NAME", "mlops-example"),
                        help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME or mlops-example)")
    parser.add_argument("--xcom", action="store_true",
                        help="also write the result to %s (KubernetesPodOperator do_xcom_push)" % XCOM_PATH)


def _data(parser):
    parser.add_argument("--dataset", default="wine", choices=["wine", "breast_cancer", "iris"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="share of the training split to keep (stratified); the test split is never reduced")


def _registry(parser, threshold=True):
    parser.add_argument("--run-id", required=True, help="the `trainer train` run")
    parser.add_argument("--model-name", default=os.environ.get("MODEL_NAME", "wine-classifier"))
    if threshold:
        parser.add_argument("--min-accuracy", type=float, default=0.9,
                            help="quality gate: the lowest test accuracy that may be registered (default 0.9)")


def parse(argv):
    parser = argparse.ArgumentParser(prog="trainer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    pre = steps.add_parser("preprocess", help="split and check a dataset, log both halves to an MLflow run")
    _common(pre)
    _data(pre)
    train = steps.add_parser("train", help="fit a model on a preprocess run's data and log it (no registration)")
    _common(train)
    _data(train)
    train.add_argument("--data-run-id", help="the `trainer preprocess` run (default: preprocess first)")
    train.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    train.add_argument("--max-iter", type=int, default=1000)
    evaluate = steps.add_parser("evaluate", help="score a train run's model and the champion, decide the gate")
    _common(evaluate)
    _registry(evaluate)
    evaluate.add_argument("--champion-alias", default="champion")
    register = steps.add_parser("register", help="register the model and point the alias at it, only if it passed")
    _common(register)
    _registry(register)
    register.add_argument("--alias", default="champion", help="alias that marks the production version")
    return parser.parse_args(argv)


def run(args):
    if args.step == "preprocess":
        from trainer.data import preprocess
        return preprocess(args.experiment, dataset=args.dataset, seed=args.seed, test_size=args.test_size,
                          train_fraction=args.train_fraction)
    if args.step == "train":
        from trainer.train import train
        return train(args.experiment, data_run_id=args.data_run_id, dataset=args.dataset, c=args.c,
                     max_iter=args.max_iter, seed=args.seed, test_size=args.test_size,
                     train_fraction=args.train_fraction)
    if args.step == "evaluate":
        from trainer.evaluate import evaluate
        return evaluate(args.run_id, args.model_name, champion_alias=args.champion_alias,
                        min_accuracy=args.min_accuracy)
    from trainer.register import register
    return register(args.run_id, args.model_name, alias=args.alias, min_accuracy=args.min_accuracy)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("trainer: MLFLOW_TRACKING_URI is not set (for example http://mlflow.mlflow.svc:5000)")
    result = run(args)
    text = json.dumps(result, sort_keys=True)
    if args.xcom:
        os.makedirs(os.path.dirname(XCOM_PATH), exist_ok=True)
        with open(XCOM_PATH, "w") as handle:
            handle.write(text)
    print(text)
    if args.step == "register" and not result["registered"]:
        print("trainer: not registered: %s" % result["reason"], file=sys.stderr)
        sys.exit(EXIT_REFUSED)


if __name__ == "__main__":
    main()
