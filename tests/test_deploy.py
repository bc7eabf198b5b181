"""The deployment files agree with each other and with the image (read, not run:
there is no Docker, Ray cluster launcher or Kubernetes in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def _uid_gid() -> tuple[int, int]:
    gid = int(re.search(r"groupadd --gid (\d+) ccelim", DOCKERFILE).group(1))
    uid = int(re.search(r"useradd [^\n]*--uid (\d+)", DOCKERFILE).group(1))
    assert re.search(rf"useradd [^\n]*--gid {gid} ccelim", DOCKERFILE)
    assert "\nUSER ccelim\n" in DOCKERFILE
    return uid, gid


def test_the_cluster_launcher_runs_commands_the_image_has():
    config = yaml.safe_load((REPO / "deploy/ray-cluster.yaml").read_text())
    text = (REPO / "deploy/ray-cluster.yaml").read_text()
    assert ".venv" not in text  # the image installs ccelim into the system Python
    assert "ray submit deploy" not in text
    assert "ray exec deploy/ray-cluster.yaml" in text
    # the image's user can write only under /data
    for command in config["setup_commands"]:
        for path in re.findall(r"mkdir -p (\S+)", command):
            assert path.startswith("/data/"), command
    assert "mkdir -p /data/runs" in DOCKERFILE
    # the launcher syncs files into the container with rsync, the head uses ssh
    assert re.search(r"apt-get install [^\n]*rsync[^\n]*openssh-client", DOCKERFILE)


def test_the_kuberay_notes_name_what_kuberay_creates_and_the_volume_is_writable():
    text = (REPO / "deploy/kuberay-raycluster.yaml").read_text()
    cluster, claim = list(yaml.safe_load_all(text))
    assert "deploy/ccelim-train-head" not in text  # KubeRay makes no Deployment
    assert "ray.io/cluster=ccelim-train,ray.io/node-type=head" in text
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    uid, gid = _uid_gid()
    assert head["securityContext"]["fsGroup"] == gid
    assert head["securityContext"]["runAsUser"] == uid
    claims = [v["persistentVolumeClaim"]["claimName"] for v in head["volumes"]
              if "persistentVolumeClaim" in v]  # fmt: skip
    assert claims == [claim["metadata"]["name"]]


def test_the_deploy_notes_use_ray_exec_and_explain_the_token():
    notes = (REPO / "deploy/README.md").read_text()
    assert "ray submit deploy" not in notes
    assert "ray exec deploy/ray-cluster.yaml 'ccelim train" in notes
    assert "RAY_AUTH_MODE=token" in notes and "ray get-auth-token" in notes
