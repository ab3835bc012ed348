"""The patched Elasticsearch image: built from the image context with pulumi-docker, pushed,
referenced by digest.

The tag is a hash of the build inputs (context files and base image), so an unchanged context
gives identical resource inputs and Pulumi builds, pushes and rolls nothing; any changed byte
gives a new tag, a new build, a new digest and so a rolling update of every ES workload.

`docker.RemoteImage` builds (through the Docker engine the docker provider is configured for:
DOCKER_HOST, or a `docker.Provider` given to the component), `docker.RegistryImage` pushes and
reads the digest back from the registry.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

from .model import Image, known

BASE_IMAGE_ARG = "BASE_IMAGE"


def context_tag(context: str, base_image: str, build_args: tuple[tuple[str, str], ...] = ()) -> str:
    """A content tag: sha256 over every file's relative path and bytes, the base image, and the
    other build arguments (none for the field report's image, whose tag stays as it was)."""
    h = hashlib.sha256()
    root = Path(context)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(base_image.encode())
    for key, value in build_args:
        h.update(b"\0" + key.encode() + b"=" + value.encode())
    return "ctx-" + h.hexdigest()[:20]


def build_tag(image: Image) -> str:
    """The content tag of the image `image` describes."""
    return context_tag(image.context, image.base_image, image.build_args)


def tagged_reference(repository: str, tag: str) -> str:
    return f"{repository}:{tag}"


def identity(image: Image) -> str:
    """The image as known before any build: the given reference, or repository:content-tag.
    It changes exactly when the pods' image will, so a preview can compare it."""
    if image.reference is not None:
        return image.reference
    return tagged_reference(image.repository, build_tag(image))


def registry_host(repository: str) -> str:
    """The registry a repository lives in, by Docker's rule: the first path component when it
    looks like a host (has a dot or a port, or is localhost), else Docker Hub."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "registry-1.docker.io"


def registry_address(image: Image) -> str:
    """Where RegistryImage pushes and reads the digest: https, or http for a plain-HTTP registry."""
    return ("http://" if image.insecure_registry else "https://") + registry_host(image.repository)


def image_ref(name: str, image: Image, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """Declare the build (and push) of `image`; return the reference pods use: repository@digest
    when pushed, repository:tag when not (only a registry assigns a digest)."""
    built = docker.RemoteImage(
        f"{name}-image-build",
        name=tagged_reference(image.repository, build_tag(image)),
        build=docker.RemoteImageBuildArgs(context=image.context, build_args={BASE_IMAGE_ARG: image.base_image, **dict(image.build_args)}),
        # Older builds stay in the engine and the registry: a rollback may still need them.
        keep_locally=True,
        # The context's path differs between checkouts and machines; its content is in the tag.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["build.context"])),
    )
    if not image.push:
        return built.name
    password = pulumi.Output.secret(known(image.registry_password)) if image.registry_password is not None else None
    pushed = docker.RegistryImage(
        f"{name}-image",
        name=built.name,
        keep_remotely=True,
        auth_config=docker.RegistryImageAuthConfigArgs(
            address=registry_address(image), username=image.registry_username, password=password
        ),
        opts=opts,
    )
    return pulumi.Output.concat(image.repository, "@", pushed.sha256_digest)


class _ImageProvider(pulumi.dynamic.ResourceProvider):
    """Only for stacks deployed before pulumi-docker: their state holds the old build resource
    (type pulumi-python:dynamic:Resource) with this class pickled by reference, and the engine
    unpickles it to delete that resource on the first `up` after upgrading. Deleting it never
    touched the registry; nothing else of the old provider is needed. Remove this class once no
    stack of the dynamic-provider version remains."""

    def delete(self, _id: str, _props: dict) -> None:
        return None
