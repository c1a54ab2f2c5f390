"""Build the devnet's images without any container registry.

- **base** (`bsc-stablecoin-devnet/debian-base:bookworm`): a Debian bookworm root filesystem
  made with `debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates`
  from the mirror apt is configured with, then `docker import`ed. Bookworm's Python is 3.11,
  the Python the host builds the wheels with.
- **anvil** (`NODE_IMAGE["anvil"]`): the base + anvil from npm (linked against glibc).
- **services** (`SERVICES_IMAGE`): the base + a venv with this project installed from wheels
  built on the host (`pip wheel`), + the contract artifacts. The build itself runs with no
  network (`network_mode="none"`, `pip install --no-index`).
- **geth** (`NODE_IMAGE["geth"]`): the services image + the static (CGO off) geth binary: the
  node runs geth under its consensus side (`python -m devnet.consensus`).
- **bsc** (`NODE_IMAGE["bsc"]`): the services image + the bsc binary (cgo, linked against
  glibc only; the build checks that it runs on the image's bookworm glibc).

Every image carries a content label (a hash of what went into it); a build is skipped when
the image with that label is already there, unless forced. The rootfs tarball and the wheels
are kept in `.tools/images/`, so later builds need no network at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from devnet.components import NODE_IMAGE, SERVICES_IMAGE
from devnet.core.paths import ARTIFACTS_DIR, REPO_ROOT
from devnet.profile import Engine
from devnet.runtime import LABEL_PREFIX
from devnet.tools import anvil_path, bsc_path, geth_path

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]

BASE_IMAGE = "bsc-stablecoin-devnet/debian-base:bookworm"
#: Bookworm ships Python 3.11: the wheels built on the host must be for the same Python.
SUITE = "bookworm"
SUITE_PYTHON = (3, 11)
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
#: Bump when the rootfs recipe (debootstrap flags, trimming) changes.
BASE_RECIPE = "minbase-trim-v1"
LABEL_CONTENT = f"{LABEL_PREFIX}.content"
WORK_DIR = REPO_ROOT / ".tools" / "images"

#: geth and its consensus side (`python -m devnet.consensus`, from the services image) run
#: as one node process, so the geth image is the services image plus the static geth binary.
GETH_DOCKERFILE = f"""\
FROM {SERVICES_IMAGE}
COPY geth /usr/local/bin/geth
EXPOSE 8545
CMD ["geth", "version"]
"""

#: bsc (linked against glibc only) on the services image, which has Python for the cluster of
#: several validators (`python -m devnet.node.bsc.cluster`); the build runs it once, so a bsc
#: built against a newer glibc than the image's fails here, not at `devnet up`.
BSC_DOCKERFILE = f"""\
FROM {SERVICES_IMAGE}
COPY bsc /usr/local/bin/bsc
RUN ["bsc", "version"]
EXPOSE 8545
CMD ["bsc", "version"]
"""

ANVIL_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY anvil /usr/local/bin/anvil
EXPOSE 8545
ENTRYPOINT ["/usr/local/bin/anvil"]
"""

SERVICES_DOCKERFILE = f"""\
FROM {BASE_IMAGE} AS install
COPY wheels /wheels
RUN python3 -m venv /opt/devnet \\
 && /opt/devnet/bin/pip install --no-index --find-links /wheels --disable-pip-version-check \\
      bsc-stablecoin-devnet

FROM {BASE_IMAGE}
COPY --from=install /opt/devnet /opt/devnet
COPY artifacts /opt/devnet/artifacts
ENV PATH=/opt/devnet/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    DEVNET_ARTIFACTS_DIR=/opt/devnet/artifacts \\
    PYTHONUNBUFFERED=1
WORKDIR /data
EXPOSE 8000
CMD ["python", "-m", "devnet.services.bank", "--host", "0.0.0.0", "--port", "8000"]
"""

#: What the project's wheel is built from (copied to a clean folder first, so the checkout
#: gets no build/ folder and the content hash covers exactly what is built).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "devnet", "harness")


#: Each image after the ones it is built FROM.
BUILD_ORDER = ("base", "anvil", "services", "geth", "bsc")


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class ImageResult:
    name: str
    tag: str
    content: str
    #: False: an image with the same content label was already there.
    built: bool
    seconds: float
    size_bytes: int


def images_for(engine: Engine) -> list[str]:
    """The image names (keys of `build_images`) a docker devnet on `engine` needs."""
    return ["base", "services", engine]


# ---- content hashes ---------------------------------------------------------------------------


def _hash(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _tree_files(root: Path, items: Iterable[str]) -> Iterator[Path]:
    for item in items:
        path = root / item
        if path.is_file():
            yield path
            continue
        for p in sorted(path.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"):
                yield p


def base_content() -> str:
    return _hash("base", SUITE, ",".join(BASE_PACKAGES), BASE_RECIPE)


def node_content(engine: Engine) -> str:
    if engine == "geth":
        return _hash("geth", GETH_DOCKERFILE, services_content(), _file_digest(geth_path()))
    if engine == "bsc":
        return _hash("bsc", BSC_DOCKERFILE, services_content(), _file_digest(bsc_path()))
    return _hash("anvil", ANVIL_DOCKERFILE, base_content(), _file_digest(anvil_path()))


def services_content() -> str:
    parts: list[str] = ["services", SERVICES_DOCKERFILE, base_content()]
    for path in _tree_files(REPO_ROOT, SOURCE_ITEMS):
        parts += [str(path.relative_to(REPO_ROOT)), _file_digest(path)]
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        parts += [f"artifacts/{path.name}", _file_digest(path)]
    parts += ["requirements.lock", _file_digest(REPO_ROOT / "requirements.lock")]
    return _hash(*parts)


def content_of(name: str) -> str:
    if name == "base":
        return base_content()
    if name == "services":
        return services_content()
    if name in ("geth", "anvil", "bsc"):
        return node_content(name)  # type: ignore[arg-type]
    raise ValueError(f"unknown image {name!r}")


def tag_of(name: str) -> str:
    return {"base": BASE_IMAGE, "services": SERVICES_IMAGE, **NODE_IMAGE}[name]


def present_content(client: docker.DockerClient, tag: str) -> str | None:
    """The content label of the image `tag`, or None when there is no such image."""
    from docker.errors import ImageNotFound

    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return None
    labels: dict[str, str] = image.labels or {}
    return labels.get(LABEL_CONTENT, "")


def stale_images(client: docker.DockerClient, names: Iterable[str]) -> list[str]:
    """The images among `names` that are missing or were built from other content."""
    return [n for n in names if present_content(client, tag_of(n)) != content_of(n)]


# ---- building ---------------------------------------------------------------------------------


def build_images(
    client: docker.DockerClient,
    names: Iterable[str] = BUILD_ORDER,
    *,
    force: bool = False,
    progress: Progress = lambda _m: None,
) -> list[ImageResult]:
    """Build the named images (the base first when another needs it); skip up-to-date ones.

    One build at a time per checkout (a file lock), so parallel test workers or a CI step and
    a test never build the same image twice.
    """
    wanted = list(dict.fromkeys(names))
    order = [n for n in BUILD_ORDER if n in wanted]
    unknown = set(wanted) - set(order)
    if unknown:
        raise ValueError(f"unknown image(s) {sorted(unknown)}; choose from {', '.join(BUILD_ORDER)}")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    with FileLock(str(WORK_DIR / "build.lock")):
        for name in order:
            results.append(_build_one(client, name, force, progress))
    return results


def _build_one(client: docker.DockerClient, name: str, force: bool, progress: Progress) -> ImageResult:
    tag = tag_of(name)
    content = content_of(name)
    started = time.monotonic()
    if not force and present_content(client, tag) == content:
        progress(f"{name}: {tag} is up to date")
        return ImageResult(name, tag, content, False, 0.0, _size(client, tag))
    progress(f"{name}: building {tag} ...")
    old = _image_id(client, tag)
    if name == "base":
        _build_base(client, content, progress)
    elif name == "geth":
        _docker_build(client, name, tag, content, GETH_DOCKERFILE, {"geth": geth_path()}, progress)
    elif name == "bsc":
        _docker_build(client, name, tag, content, BSC_DOCKERFILE, {"bsc": bsc_path()}, progress)
    elif name == "anvil":
        _docker_build(client, name, tag, content, ANVIL_DOCKERFILE, {"anvil": anvil_path()}, progress)
    else:
        wheels = _build_wheels(progress)
        try:
            _docker_build(
                client,
                name,
                tag,
                content,
                SERVICES_DOCKERFILE,
                {"wheels": wheels, "artifacts": ARTIFACTS_DIR},
                progress,
            )
        finally:
            shutil.rmtree(wheels, ignore_errors=True)  # the dependencies stay in the wheel cache
    new = _image_id(client, tag)
    if old and old != new:  # the previous build of this tag, now untagged
        _remove_quietly(client, old)
    seconds = time.monotonic() - started
    size = _size(client, tag)
    progress(f"{name}: built {tag} in {seconds:.1f} s ({size / 1e6:.0f} MB)")
    return ImageResult(name, tag, content, True, round(seconds, 1), size)


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        image_id: str = client.images.get(tag).id
    except ImageNotFound:
        return None
    return image_id


def _size(client: docker.DockerClient, tag: str) -> int:
    size: int = client.images.get(tag).attrs["Size"]
    return size


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    from docker.errors import APIError

    # Still used by a container, or the parent of another image: leave it.
    with contextlib.suppress(APIError):
        client.images.remove(image_id)


def _docker_build(
    client: docker.DockerClient,
    name: str,
    tag: str,
    content: str,
    dockerfile: str,
    files: dict[str, Path],
    progress: Progress,
) -> None:
    """`docker build` of a context folder holding `dockerfile` and `files` (hard links when
    possible); the context is uploaded to the engine, so a remote DOCKER_HOST works too."""
    context = WORK_DIR / f"context-{name}"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    dangling_before = _dangling(client)
    try:
        (context / "Dockerfile").write_text(dockerfile)
        for target, source in files.items():
            _link_tree(source, context / target)
        stream = client.api.build(
            path=str(context),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL_CONTENT: content},
            network_mode="none",  # nothing inside a build reaches any network
        )
        _follow_build(name, stream, progress)
    finally:
        shutil.rmtree(context, ignore_errors=True)
        # The legacy builder keeps a multi-stage build's first stage as an untagged image.
        for image_id in _dangling(client) - dangling_before:
            _remove_quietly(client, image_id)


def _dangling(client: docker.DockerClient) -> set[str]:
    return {image.id for image in client.images.list(filters={"dangling": True})}


def _follow_build(name: str, stream: Iterable[dict[str, Any]], progress: Progress) -> None:
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            detail = "\n".join(tail[-20:])
            raise ImageBuildError(f"{name}: docker build failed: {chunk['error']}\n{detail}")
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                tail.append(line)
            if line.startswith("Step "):
                progress(f"{name}: {line}")


def _link_tree(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# ---- the Debian base --------------------------------------------------------------------------


def debian_mirror() -> str:
    """The Debian mirror apt uses for the main archive (DEVNET_DEBIAN_MIRROR overrides it)."""
    explicit = os.environ.get("DEVNET_DEBIAN_MIRROR")
    if explicit:
        return explicit
    for uri, suites, components in _apt_sources(Path("/etc/apt")):
        if any(s in (SUITE, "stable") for s in suites) and "main" in components:
            return uri
    for uri, suites, _ in _apt_sources(Path("/etc/apt")):
        if any(s.split("-")[0] in ("bookworm", "trixie", "stable") for s in suites):
            return uri.replace("-security", "") if uri.endswith("-security") else uri
    raise ImageBuildError("no Debian mirror found in /etc/apt/sources.list*; set DEVNET_DEBIAN_MIRROR to one")


def _apt_sources(etc_apt: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of every enabled `deb` source: one-line and deb822 formats."""
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in files:
        if not path.is_file():
            continue
        for raw in path.read_text().splitlines():
            line = re.sub(r"\[[^]]*\]", "", raw.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                yield line[1].rstrip("/"), [line[2]], line[3:]
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for raw in stanza.splitlines():
                if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                    continue
                key, value = raw.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
                continue
            for uri in fields.get("uris", "").split():
                yield uri.rstrip("/"), fields.get("suites", "").split(), fields.get("components", "").split()


def _build_base(client: docker.DockerClient, content: str, progress: Progress) -> None:
    tarball = WORK_DIR / f"debian-{SUITE}-{content[:12]}.tar"
    if tarball.is_file():
        progress(f"base: reusing the root filesystem {tarball}")
    else:
        _debootstrap(tarball, progress)
    progress(f"base: docker import {tarball.name} ({tarball.stat().st_size / 1e6:.0f} MB) ...")
    repository, tag = BASE_IMAGE.rsplit(":", 1)
    client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=tag,
        changes=[
            f"LABEL {LABEL_CONTENT}={content}",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["/bin/bash"]',
        ],
    )


def _debootstrap(tarball: Path, progress: Progress) -> None:
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").is_file() else None
    )
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root to build the base image's root filesystem")
    mirror = debian_mirror()
    rootfs = WORK_DIR / f"rootfs-{SUITE}"
    shutil.rmtree(rootfs, ignore_errors=True)
    argv = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    progress(f"base: debootstrap {SUITE} from {mirror} (about a minute and a half) ...")
    try:
        _run_phased(argv, progress)
        # What a container never needs: package caches and lists, docs, man pages.
        for junk in (
            "var/cache/apt",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
        ):
            for child in (rootfs / junk).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
            check=True,
        )
        partial.replace(tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def _run_phased(argv: list[str], progress: Progress) -> None:
    """Run debootstrap, reporting the first line of each phase (Retrieving, Unpacking, ...)."""
    log: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        seen: set[str] = set()
        for line in process.stdout:
            line = line.rstrip()
            log.append(line)
            words = line.split()
            if len(words) >= 2 and words[0] == "I:" and words[1] not in seen:
                seen.add(words[1])
                progress(f"base: {line[3:]}")
    if process.returncode != 0:
        tail = "\n".join(log[-20:])
        raise ImageBuildError(f"debootstrap failed (exit {process.returncode}):\n{tail}")


# ---- wheels -----------------------------------------------------------------------------------


def _build_wheels(progress: Progress) -> Path:
    """Wheels of this project and its dependencies, built on the host for the image's Python.

    Offline first (only the wheel cache in `.tools/images/wheels`); the package registry only
    when something is missing from it, and whatever it brings is cached for the next time.
    """
    if sys.version_info[:2] != SUITE_PYTHON:
        raise ImageBuildError(
            f"the services image runs Debian {SUITE}'s Python {SUITE_PYTHON[0]}.{SUITE_PYTHON[1]}; "
            f"wheels must be built with the same Python (this is {sys.version.split()[0]})"
        )
    cache = WORK_DIR / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    source = WORK_DIR / "source"
    out = WORK_DIR / "wheels-build"
    for folder in (source, out):
        shutil.rmtree(folder, ignore_errors=True)
    source.mkdir(parents=True)
    out.mkdir(parents=True)
    for item in SOURCE_ITEMS:
        src = REPO_ROOT / item
        if src.is_dir():
            shutil.copytree(src, source / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, source / item)
    build_requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    base = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet"]
    # The versions requirements.lock pins, as on the host: the image runs what the tests ran.
    base += ["--constraint", str(REPO_ROOT / "requirements.lock")]
    base += ["--wheel-dir", str(out), "--find-links", str(cache), str(source)]
    progress("services: pip wheel (the project and its dependencies, offline from the wheel cache) ...")
    offline = subprocess.run([*base, "--no-index"], capture_output=True, text=True, check=False)
    if offline.returncode != 0:
        progress("services: wheel cache incomplete; fetching from the package index ...")
        # The build backend too, so the next build can be offline (build isolation needs it).
        online = subprocess.run([*base, *build_requires], capture_output=True, text=True, check=False)
        if online.returncode != 0:
            raise ImageBuildError(f"pip wheel failed:\n{online.stdout[-3000:]}\n{online.stderr[-3000:]}")
    for wheel in out.glob("*.whl"):  # the dependencies, for the next (offline) build
        cached = cache / wheel.name
        if not wheel.name.startswith("bsc_stablecoin_devnet-") and not cached.exists():
            _link_or_copy(str(wheel), str(cached))
    shutil.rmtree(source, ignore_errors=True)
    progress(f"services: {len(list(out.glob('*.whl')))} wheels ready")
    return out
