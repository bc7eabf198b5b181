# ccelim service image.
#
#   docker build -t ccelim .                              # CPU JAX (default)
#   docker build -t ccelim:cuda --build-arg JAX_VARIANT=cuda12 .   # CUDA 12 JAX
#
# The same image runs the HTTP service (default command) and the Ray nodes
# (`ray start ...`, see deploy/docker-compose.yml), so that driver and workers
# have identical Python, Ray and ccelim versions, as Ray requires.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

# cpu: the jaxlib CPU wheel; cuda12: jax[cuda12] (CUDA and cuDNN come as pip
# wheels; the host needs only the NVIDIA driver and the container toolkit).
ARG JAX_VARIANT=cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CCELIM_DATA_DIR=/data

# rsync and ssh: the Ray cluster launcher (deploy/ray-cluster.yaml) syncs files
# into the container with rsync and its head reaches the worker nodes over ssh.
RUN apt-get update \
    && apt-get install -y --no-install-recommends rsync openssh-client \
    && rm -rf /var/lib/apt/lists/*

# uid and gid 10001: deploy/kuberay-raycluster.yaml's fsGroup names the gid.
RUN groupadd --gid 10001 ccelim \
    && useradd --create-home --uid 10001 --gid 10001 ccelim \
    && mkdir -p /data/runs \
    && chown -R ccelim:ccelim /data

WORKDIR /app

# Dependencies first (cached while only the code changes).
COPY pyproject.toml README.md ./
RUN mkdir -p graphs search interpreter service \
    && touch graphs/__init__.py search/__init__.py interpreter/__init__.py \
             service/__init__.py \
    && pip install ".[postgres]" \
    && pip install "jax[${JAX_VARIANT}]==$(python -c 'import jax; print(jax.__version__)')" \
    && pip uninstall -y ccelim

COPY graphs ./graphs
COPY search ./search
COPY interpreter ./interpreter
COPY service ./service
RUN pip install --no-deps . && python -c "import service.app, search, interpreter"

USER ccelim
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; \
sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"

CMD ["ccelim", "serve", "--host", "0.0.0.0", "--port", "8000"]
