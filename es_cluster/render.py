"""Render a stack's Kubernetes objects to YAML without the engine: for review, diffing and
schema validation. The image is shown by its content tag, since only a push yields a digest."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from . import specs
from .config import ConfigError, parse_stack_config, validate
from .image import build_tag, tagged_reference
from .model import Cluster
from .stack import StackFileError, read_stack_file


def image_for_render(cluster: Cluster) -> str:
    img = cluster.image
    return img.reference or tagged_reference(img.repository, build_tag(img))


def render(cluster: Cluster) -> list[dict[str, Any]]:
    return specs.manifests(cluster, image_for_render(cluster))


def manifest_filename(index: int, manifest: dict[str, Any]) -> str:
    return f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


# Every name manifest_filename gives, at any count of objects (100 and more take three digits):
# an earlier render's files, which a new render replaces whole.
RENDERED_FILE = re.compile(r"[0-9]{2,}-[a-z]+-[a-z0-9.-]+\.yaml")


def write(manifests: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write one file per object into out_dir, removing an earlier render's files first, so
    `kubectl apply -f out_dir` applies exactly these objects. Other files are left alone."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.iterdir():
        if RENDERED_FILE.fullmatch(old.name) and old.is_file():
            old.unlink()
    paths = []
    for i, m in enumerate(manifests):
        path = out_dir / manifest_filename(i, m)
        path.write_text(yaml.safe_dump(m, sort_keys=False))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m es_cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="write the objects a stack would declare as Kubernetes YAML")
    r.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    r.add_argument("--project-dir", default=".", type=Path, help="folder holding Pulumi.<stack>.yaml")
    r.add_argument("-o", "--out", default=Path("out"), type=Path, help="output folder (default: out/)")
    args = parser.parse_args(argv)

    stack_file = args.project_dir / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        print(f"error: no stack config at {stack_file}", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"error: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    try:
        config, file_warnings = read_stack_file(stack_file)
        cluster = validate(parse_stack_config(config))
    except (ConfigError, StackFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for w in [*file_warnings, *cluster.warnings]:
        print(f"warning: {w}", file=sys.stderr)
    try:
        paths = write(render(cluster), args.out)
    except OSError as e:
        print(f"error: cannot write to {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} objects to {args.out}/")
    return 0
