"""Benchmark of ecr_image: first build + push, then the unchanged re-run (`make bench-images`).

The unchanged re-run should cost about one registry lookup: ecr_image finds its content tag in
the registry (one HTTP HEAD) and stops, without building or pushing. The benchmark prints the
first run's seconds, the unchanged re-run's seconds and their ratio, and, for scale, what one
registry lookup and the module process's own start (Python, Ansible and boto3 imports) cost.

Images:
  synthetic (default)  FROM scratch with --size-mb of random files (deterministic), nothing
                       downloaded: the build is a copy and a commit, the push a real upload
  mlflow, trainer      the platform's images from a local Debian base (debootstrap, cached) with
                       pip installing from PyPI (minutes; the host CA bundle is passed as a build
                       secret where TLS is intercepted)

Everything runs on 127.0.0.1 (moto for the ECR API, docker-registry for the images; see
tests/tools/imagelab.py, which `make bench-images` puts on PYTHONPATH) and is stopped at the end.
Results are also written to bench/results/images.json (--results).
"""

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time

import imagelab

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "images.json")


def synthetic_context(directory, size_mb, files=16):
    os.makedirs(os.path.join(directory, "data"), exist_ok=True)
    rng = random.Random(20261121)
    per_file = max(1, size_mb * 1024 * 1024 // files)
    for i in range(files):
        with open(os.path.join(directory, "data", "blob-%02d.bin" % i), "wb") as f:
            f.write(rng.randbytes(per_file))
    with open(os.path.join(directory, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY data/ /data/\n")
    return directory


def time_lookup(lab, name, tag, repeat=5):
    """Seconds of one registry HEAD of the tag, as the module does it (median of ``repeat``)."""
    from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import Registry

    registry = Registry(lab.registry, username="AWS", password=imagelab.TOKEN_PASSWORD, insecure=True)
    samples = []
    for dummy in range(repeat):
        started = time.perf_counter()
        digest = registry.manifest_digest(name, tag)
        samples.append(time.perf_counter() - started)
        assert digest, "the tag %s is not in the registry" % tag
    return statistics.median(samples)


def time_module_start(lab):
    """Seconds for the module process to start and import what it imports (no AWS, no registry)."""
    code = ("import boto3, botocore; "
            "from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule; "
            "import ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.image")

    samples = []
    for dummy in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=lab.env, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--image", choices=["synthetic", "mlflow", "trainer"], default="synthetic")
    parser.add_argument("--size-mb", type=int, default=64, help="size of the synthetic context")
    parser.add_argument("--repeat", type=int, default=3, help="unchanged re-runs to take the median of")
    parser.add_argument("--dir", default=os.path.join(imagelab.REPO_ROOT, "build", "bench-images"))
    parser.add_argument("--results", default=RESULTS, help="where the figures go (default %(default)s)")
    args = parser.parse_args(argv)

    imagelab.check_tools(("debootstrap",) if args.image != "synthetic" else ())
    # A SIGTERM (a CI timeout, `kill`) must still stop the lab's emulator and registry.
    signal.signal(signal.SIGTERM, imagelab.exit_on_sigterm)
    with imagelab.Lab(args.dir) as lab:
        if args.image == "synthetic":
            context = synthetic_context(os.path.join(lab.dir, "context"), args.size_mb)
            extra = {}
            label = "synthetic FROM scratch image, %d MiB in 16 files" % args.size_mb
        else:
            base = lab.ensure_base_image()
            context = os.path.join(imagelab.REPO_ROOT, "images", args.image)
            extra = {"build_args": {"BASE_IMAGE": base}}
            if os.path.exists(imagelab.HOST_CA_BUNDLE):
                extra["secrets"] = [{"id": "ca-bundle", "src": imagelab.HOST_CA_BUNDLE}]
            label = "images/%s from %s" % (args.image, base)
        name = "bench/%s" % args.image
        module_args = lab.module_args(name, context, **extra)

        print("ecr_image benchmark: %s" % label, flush=True)
        first, first_seconds = lab.run_module(module_args)
        assert first["built"] and first["pushed"], first
        print("first build+push:      %8.2f s   (build %.2f s, digest %s)"
              % (first_seconds, first.get("build_seconds", 0), first["digest"]), flush=True)

        samples = []
        for dummy in range(args.repeat):
            mark = lab.registry_log_size()
            again, seconds = lab.run_module(module_args)
            assert not again["changed"] and not again["built"] and not again["pushed"], again
            requests = re.findall(r'"([A-Z]+) /v2/[^ "]*/manifests/[^ "]* HTTP', lab.registry_requests(mark))
            assert requests == ["HEAD"], "expected one registry lookup, the registry saw %s" % requests
            samples.append(seconds)
        unchanged = statistics.median(samples)
        lookup = time_lookup(lab, name, first["content_tag"])
        start = time_module_start(lab)
        ratio = first_seconds / unchanged
        print("unchanged re-run:      %8.2f s   (median of %d; the registry saw exactly one HEAD each time)"
              % (unchanged, args.repeat))
        print("ratio first/unchanged: %8.1f x" % ratio)
        print("for scale: one registry lookup (HEAD) %.3f s; module process start and imports %.2f s;"
              % (lookup, start))
        print("           the rest of the unchanged run (AWS client, repository read, ECR token, context digest,"
              " one HEAD): %.2f s" % max(0.0, unchanged - start))

        results = dict(image=args.image, label=label, first_seconds=round(first_seconds, 3),
                       unchanged_seconds=round(unchanged, 3), unchanged_samples=[round(s, 3) for s in samples],
                       ratio=round(ratio, 2), lookup_seconds=round(lookup, 4), module_start_seconds=round(start, 3),
                       build_seconds=first.get("build_seconds"), digest=first["digest"],
                       date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
        print("written: %s" % args.results)


if __name__ == "__main__":
    main()
