"""firebreak's container image, built and run for real with podman (no Docker daemon here).

No image registry can be reached from these machines, so the base image is made locally:
``debootstrap --variant=minbase`` of Debian bookworm with python3 and its venv module, imported
into podman under a tag keyed by a hash of that recipe, and reused by later runs on the machine.
podman's layer cache does the rest: an unchanged checkout rebuilds in seconds. (A pip cache
mounted into the build was tried: pip stored nothing in it, here as on the host, whose index
answers pass through a proxy; so a changed source downloads the wheels again.)

podman is driven the way that works on these machines: ``runc`` with cgroupfs, builds with
chroot isolation on the host network in Docker format (the OCI format drops ``HEALTHCHECK``),
and explicit ulimits. Inside the build the package index is reached through the host's CA
bundle, mounted read-only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.binaries import need

CHECKOUT = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "firebreak"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SUITE = "bookworm"
VARIANT = "minbase"
BASE_PACKAGES = ("python3", "python3-venv")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
BASE_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 900
COMMAND_TIMEOUT_S = 120
READY_TIMEOUT_S = 60.0


def unavailable(message: str) -> None:
    """CI must build the image; a developer's machine may lack what it takes."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the image test must run in CI: {message}")
    pytest.skip(message)


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first Debian archive this machine's apt sources use for ``SUITE``.

    Both formats are read: one-line ``sources.list`` entries and deb822 ``*.sources`` stanzas.
    """
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        for line in _read(path).splitlines():
            words = line.split("#", 1)[0].split()
            if words[:1] == ["deb"]:
                rest = [w for w in words[1:] if not w.startswith("[")]
                if len(rest) >= 2 and rest[1] == SUITE:
                    return rest[0]
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in _read(path).split("\n\n"):
            fields = _deb822(stanza)
            if (
                "deb" in fields.get("Types", "").split()
                and SUITE in fields.get("Suites", "").split()
            ):
                uris = fields.get("URIs", "").split()
                if uris:
                    return uris[0]
    return DEFAULT_MIRROR


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _deb822(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def base_tag(mirror: str) -> str:
    """The base image's tag: a change of suite, variant, packages or mirror makes a new one."""
    recipe = json.dumps([SUITE, VARIANT, BASE_PACKAGES, mirror]).encode()
    return f"localhost/firebreak-base:{SUITE}-{hashlib.sha256(recipe).hexdigest()[:12]}"


@dataclass(frozen=True)
class Podman:
    """The podman command line that works on these machines."""

    binary: str
    runtime: str

    @classmethod
    def find(cls) -> Podman:
        """podman and runc, or skip (fail under CI=true); rootless podman is not set up here."""
        binary, runtime = need("podman"), need("runc")
        if os.geteuid() != 0:
            unavailable("the image test runs rootful podman (and debootstrap): run it as root")
        return cls(binary, runtime)

    def command(self, *args: str) -> list[str]:
        return [self.binary, "--runtime", self.runtime, "--cgroup-manager", "cgroupfs", *args]

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:2])} exited {done.returncode}:\n{done.stderr[-4000:]}"
            )
        return done

    def image_exists(self, tag: str) -> bool:
        return self.run("image", "exists", tag, check=False).returncode == 0

    def inspect_image(self, tag: str) -> dict[str, object]:
        found = json.loads(self.run("image", "inspect", tag).stdout)
        assert isinstance(found, list), found
        assert len(found) == 1, found
        image: dict[str, object] = found[0]
        return image


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One test run at a time makes the base image (or builds) on this machine."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_base(podman: Podman) -> str:
    """The tag of the debootstrap'd base image, made and imported on the first run only."""
    mirror = debian_mirror()
    tag = base_tag(mirror)
    with _locked("base"):
        if podman.image_exists(tag):
            return tag
        debootstrap = need("debootstrap")
        with tempfile.TemporaryDirectory(dir=CACHE, prefix="rootfs-") as tmp:
            root = Path(tmp) / "rootfs"
            made = subprocess.run(
                [
                    debootstrap,
                    f"--variant={VARIANT}",
                    f"--include={','.join(BASE_PACKAGES)}",
                    SUITE,
                    str(root),
                    mirror,
                ],
                capture_output=True,
                text=True,
                timeout=BASE_TIMEOUT_S,
                check=False,
            )
            if made.returncode != 0:
                unavailable(f"debootstrap failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}")
            # The package lists and downloaded packages are only needed to install, not to run.
            for leftover in [
                *(root / "var/cache/apt/archives").glob("*.deb"),
                *(root / "var/lib/apt/lists").glob("*_*"),
            ]:
                leftover.unlink()
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                imported = subprocess.run(
                    podman.command("import", "-", tag),
                    stdin=tar.stdout,
                    capture_output=True,
                    text=True,
                    timeout=BASE_TIMEOUT_S,
                    check=False,
                )
            finally:
                assert tar.stdout is not None
                tar.stdout.close()
                tar.wait(timeout=COMMAND_TIMEOUT_S)
            assert imported.returncode == 0, imported.stderr[-3000:]
    return tag


def build(podman: Podman, base: str, tag: str) -> None:
    """``podman build`` of the checkout's Dockerfile on ``base``; fails with the build's log."""
    with _locked("build"):
        done = podman.run(
            "build",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--format",
            "docker",
            *ULIMITS,
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--volume",
            f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
            "--tag",
            tag,
            "--file",
            str(CHECKOUT / "Dockerfile"),
            str(CHECKOUT),
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 0, (
        f"podman build failed:\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    )


@dataclass(frozen=True)
class Container:
    """A running container of the image, on the host network."""

    podman: Podman
    name: str

    def logs(self) -> str:
        done = self.podman.run("logs", self.name, check=False)
        return f"--- logs of container {self.name} ---\n{done.stdout[-6000:]}{done.stderr[-6000:]}"

    def running(self) -> bool:
        done = self.podman.run("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return done.stdout.strip() == "true"

    def exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.podman.run("exec", self.name, *args, check=False)

    def wait_http(self, url: str, timeout: float = READY_TIMEOUT_S) -> tuple[int, bytes]:
        """The first answer other than 503 at ``url`` (status, body), while the container runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"container {self.name} exited before answering {url}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                    return int(response.status), bytes(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 503:
                    return exc.code, exc.read()
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{url} did not answer within {timeout:.0f}s")


@contextmanager
def running(
    podman: Podman,
    image: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    flags: Sequence[str] = (),
) -> Iterator[Container]:
    """A container of ``image`` running ``firebreak ARGS`` with podman run ``flags``; always
    removed, its logs attached to whatever fails inside."""
    name = f"firebreak-test-{os.getpid()}-{time.monotonic_ns()}"
    env_flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    # No systemd here to run the healthcheck's timer: the test runs the check itself.
    podman.run(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        *ULIMITS,
        "--health-interval",
        "disable",
        *env_flags,
        *flags,
        image,
        *args,
    )
    container = Container(podman, name)
    try:
        yield container
    except BaseException as exc:
        exc.add_note(container.logs())
        raise
    finally:
        podman.run("rm", "--force", "--time", "5", name, check=False)
