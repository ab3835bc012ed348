"""The patched Elasticsearch image: built from the image context, pushed, referenced by digest.

The tag is a hash of the build inputs (context files and base image), so an unchanged context
gives identical resource inputs and Pulumi builds, pushes and rolls nothing; any changed byte
gives a new tag, a new build, a new digest and so a rolling update of every ES workload.

The build runs in a Pulumi dynamic provider that talks to the Docker engine through the
`docker` package (DOCKER_HOST as usual).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

BASE_IMAGE_ARG = "BASE_IMAGE"


def context_tag(context: str, base_image: str) -> str:
    """A content tag: sha256 over every file's relative path and bytes, and the base image."""
    h = hashlib.sha256()
    root = Path(context)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(base_image.encode())
    return "ctx-" + h.hexdigest()[:20]


def tagged_reference(repository: str, tag: str) -> str:
    return f"{repository}:{tag}"


def build_and_push(context: str, repository: str, tag: str, base_image: str, push: bool) -> dict[str, Any]:
    """Build with the Docker engine; return the reference pods should use and the image id."""
    import docker  # imported here: the dynamic provider process unpickles this function

    client = docker.from_env()
    ref = tagged_reference(repository, tag)
    try:
        image, _ = client.images.build(path=context, tag=ref, buildargs={BASE_IMAGE_ARG: base_image}, rm=True, pull=False)
    except docker.errors.BuildError as e:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in e.build_log)
        raise RuntimeError(f"docker build of {context} failed: {e.msg}\n{log[-4000:]}") from None
    if not push:
        return {"ref": ref, "image_id": image.id, "digest": ""}
    for line in client.images.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"docker push of {ref} failed: {line['error']}")
    image.reload()
    digests = [d for d in image.attrs.get("RepoDigests", []) if d.startswith(repository + "@")]
    if not digests:
        raise RuntimeError(f"pushed {ref} but the engine reports no digest for {repository}")
    return {"ref": digests[0], "image_id": image.id, "digest": digests[0].split("@", 1)[1]}


_INPUTS = ("context", "repository", "tag", "base_image", "push")


class _ImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        out = build_and_push(props["context"], props["repository"], props["tag"], props["base_image"], props["push"])
        return CreateResult(id_=out["ref"], outs={**{k: props[k] for k in _INPUTS}, **out})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The context path may differ between machines; only what is built counts.
        changed = [k for k in ("repository", "tag", "base_image", "push") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Pushed images stay in the registry: a rollback may still need them.
        return None


class BuiltImage(pulumi.dynamic.Resource):
    """One build of the image context; `ref` is repository@sha256:digest (repository:tag when
    not pushed, since only a registry assigns a digest)."""

    ref: pulumi.Output[str]
    digest: pulumi.Output[str]

    def __init__(
        self, name: str, *, context: str, repository: str, base_image: str, push: bool, opts: pulumi.ResourceOptions | None = None
    ):
        props = {
            "context": context,
            "repository": repository,
            "tag": context_tag(context, base_image),
            "base_image": base_image,
            "push": push,
            "ref": None,
            "digest": None,
            "image_id": None,
        }
        super().__init__(_ImageProvider(), name, props, opts)
