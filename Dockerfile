# syntax=docker/dockerfile:1
# tierwatch: one image for `tierwatch worker` (default) and `tierwatch ingest`.
#   docker build -t tierwatch:0.1.0 .
#   docker run --rm tierwatch:0.1.0 settings        # any subcommand of the CLI
#
# The base image is pinned by version. To pin it by digest as well, resolve it once
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and build with --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- builder: install the project and its dependencies into a virtualenv -------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# a compiler for dependencies that lack a wheel for this platform and for mypyc (below);
# it stays in this stage
RUN apt-get update \
 && apt-get install --yes --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY stream ./stream
# A regular (non-editable) install: the package and its data (default_policy.yaml) go into
# the venv, so the final stage needs no source tree. rocksdict is the RocksDB binding Faust
# uses for TIERWATCH_STORE=rocksdb:// (faust-streaming's "rocksdict" extra).
RUN pip install --upgrade pip \
 && pip install ".[rocksdb]" \
 && tierwatch --help >/dev/null
# The step path compiled with mypyc (deploy/compile.py: the modules `make bench` measures and
# tests/test_compiled.py checks against the pure ones): C extensions beside the installed
# sources, which Python imports first. mypy is needed only to build them and leaves again.
COPY deploy/compile.py ./deploy/compile.py
RUN pip install "mypy>=1.10" setuptools \
 && python deploy/compile.py --in-place \
      "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && pip uninstall --yes mypy \
 && cd / && python -c "import sys, stream.core.step as s; \
sys.exit(0 if s.__file__.endswith('.so') else 'the step path is not compiled: ' + s.__file__)" \
 && tierwatch --help >/dev/null
# Every data file of the source tree (policy, message templates) must be in the installed
# package, or the image fails at run time: stop here, naming what package-data misses.
RUN cd / && python -c "import pathlib, sys, stream; \
src = pathlib.Path('/src/stream'); dst = pathlib.Path(stream.__file__).parent; \
missing = sorted(str(f.relative_to(src)) for f in src.rglob('*') if f.is_file() \
  and f.suffix not in ('.py', '.pyc') and not (dst / f.relative_to(src)).exists()); \
sys.exit('not installed, add to [tool.setuptools.package-data] in pyproject.toml: ' \
  + ', '.join(missing) if missing else 0)"

# ---- final: the venv on a clean base, run as a non-root user -------------------------
FROM ${PYTHON_IMAGE}

ARG UID=10001
ARG GID=10001
RUN groupadd --system --gid "${GID}" tierwatch \
 && useradd --system --uid "${UID}" --gid tierwatch --home-dir /var/lib/tierwatch \
      --no-create-home --shell /usr/sbin/nologin tierwatch \
 && mkdir -p /var/lib/tierwatch \
 && chown tierwatch:tierwatch /var/lib/tierwatch

COPY --from=builder /opt/venv /opt/venv

# TIERWATCH_DATA_DIR is owned by the user (a named volume mounted there inherits it)
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TIERWATCH_DATA_DIR=/var/lib/tierwatch \
    TIERWATCH_LOG_FORMAT=json

WORKDIR /var/lib/tierwatch
USER 10001:10001

# 6066: the worker's web port (TIERWATCH_WEB_PORT: /metrics, /healthz, /readyz, /learners)
# 8080: ingest (TIERWATCH_INGEST_PORT)
EXPOSE 6066 8080

ENTRYPOINT ["tierwatch"]
CMD ["worker"]
