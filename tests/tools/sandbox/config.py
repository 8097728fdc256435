"""Where the sandbox keeps its state and the facts its parts share (region, service network)."""

import os

# tests/tools/sandbox/config.py: four levels below the checkout.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEFAULT_DIR = os.path.join(REPO_ROOT, ".sandbox")

AWS_REGION = "eu-west-1"
SERVICE_CIDR = "10.96.0.0/16"
