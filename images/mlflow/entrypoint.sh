#!/bin/sh
# Entry point of the MLflow server image.
#
#   server (default)  `mlflow server`, configured from the environment, exec'd so that it gets
#                     the signals (SIGTERM from Kubernetes) itself. Extra arguments are passed on.
#   healthcheck       exits 0 when the server answers GET /health on 127.0.0.1:$MLFLOW_PORT,
#                     for the image's HEALTHCHECK and for Kubernetes exec probes.
#   anything else     is run as a command, for example: mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"
#
# Environment (read by `mlflow server` itself, so no secret appears on a command line):
#   MLFLOW_BACKEND_STORE_URI      required, e.g. postgresql://user:password@host:5432/mlflow (from a Secret)
#   MLFLOW_ARTIFACTS_DESTINATION  e.g. s3://bucket/mlflow; the server proxies artifacts (--serve-artifacts)
#   MLFLOW_HOST, MLFLOW_PORT      listen address, 0.0.0.0 and 5000 by default
#   MLFLOW_WORKERS                number of server workers (MLflow's default when unset)
set -eu

command=${1:-server}
[ $# -gt 0 ] && shift

case $command in
  server)
    if [ -z "${MLFLOW_BACKEND_STORE_URI:-}" ]; then
      echo "mlflow-entrypoint: MLFLOW_BACKEND_STORE_URI is not set (for example postgresql://user:password@host:5432/mlflow)" >&2
      exit 64
    fi
    export MLFLOW_HOST="${MLFLOW_HOST:-0.0.0.0}" MLFLOW_PORT="${MLFLOW_PORT:-5000}"
    if [ -n "${MLFLOW_ARTIFACTS_DESTINATION:-}" ]; then
      set -- --serve-artifacts "$@"
    fi
    exec mlflow server "$@"
    ;;
  healthcheck)
    exec python3 -c '
import os, sys, urllib.request
url = "http://127.0.0.1:%s/health" % os.environ.get("MLFLOW_PORT", "5000")
try:
    with urllib.request.urlopen(url, timeout=float(os.environ.get("MLFLOW_HEALTHCHECK_TIMEOUT", "4"))) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception as error:
    print("mlflow healthcheck: %s: %s" % (url, error), file=sys.stderr)
    sys.exit(1)
'
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
