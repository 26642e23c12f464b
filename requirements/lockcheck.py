"""Check a lock file (``uv pip compile`` output) against the environment or against pyproject.toml.

    python requirements/lockcheck.py installed requirements/airflow-3.3.txt
        The running interpreter has exactly the locked versions (a ``pip freeze`` diff; printed, and
        exit 1 when it is not empty). The project itself (installed editable on top) is left out, and
        so are the venv's pip and setuptools, as ``pip freeze`` leaves them out.
    python requirements/lockcheck.py pyproject requirements/airflow-3.3.txt
        Every requirement of pyproject.toml (dependencies and the ``dev`` extra) and of the lock's
        ``.in`` file is pinned in the lock within its range and was resolved from that file, and the
        lock has no direct requirement that those files no longer ask for. Exit 1 with each disagreement.

Standard library plus ``packaging`` (which pip vendors and Airflow depends on).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pip's vendored tomli is the same parser
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # before the lock is installed: pip's vendored copy
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
PROJECT = "airflow-provider-vidgen"
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Not pinned: the venv's own seed packages, and the toy vendor of the tests (a local distribution, tests/toy_vendor).
FREEZE_SKIPS = ("pip", "setuptools", "wheel", "distribute", "vidgen-toy-vendor")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)

    def applies(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate()

    def meets(self, requirement: Requirement) -> bool:
        """Whether this pin and ``requirement`` can hold on one supported Python (their markers overlap)."""
        if self.marker is None or requirement.marker is None:
            return True
        return any(
            Marker(self.marker).evaluate(env) and requirement.marker.evaluate(env)
            for env in ({"python_version": v, "python_full_version": f"{v}.0"} for v in SUPPORTED_PYTHONS)
        )


def read_lock(path: Path) -> list[Pin]:
    """Every pin, in file order; a universal lock can pin one name twice under exclusive markers."""
    pins: list[Pin] = []
    current: Pin | None = None
    in_via = False
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = Pin(canonicalize_name(match[1]), match[2], match[3])
            pins.append(current)
            in_via = False
            continue
        stripped = line.strip()
        if current is not None and stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
            continue
        if current is None or not stripped.startswith("#"):
            continue
        text = stripped.lstrip("#").strip()
        if text.startswith("via"):
            in_via = True
            text = text[3:].strip()
        if in_via and text:
            current.via.append(text)
    return pins


def installed() -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions[canonicalize_name(name)] = dist.version
    return versions


def check_installed(lock: Path) -> list[str]:
    wanted = {pin.name: pin.version for pin in read_lock(lock) if pin.applies()}
    have = installed()
    for name in (PROJECT, *FREEZE_SKIPS):
        if name not in wanted:
            have.pop(canonicalize_name(name), None)
    lines = []
    for name in sorted(set(wanted) | set(have)):
        if wanted.get(name) == have.get(name):
            continue
        if name in wanted:
            lines.append(f"-{name}=={wanted[name]}")
        if name in have:
            lines.append(f"+{name}=={have[name]}")
    return lines


def pyproject_requirements(pyproject: Path) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    return [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def in_file_requirements(lock: Path) -> list[Requirement]:
    source = lock.with_suffix(".in")
    lines = source.read_text().splitlines() if source.exists() else []
    return [Requirement(line.split("#", 1)[0]) for line in lines if line.split("#", 1)[0].strip()]


def check_pyproject(lock: Path, pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    pins = read_lock(lock)
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    sources = {
        f"{PROJECT} (pyproject.toml)": pyproject_requirements(pyproject),
        f"-r {lock.with_suffix('.in').relative_to(REPO)}": in_file_requirements(lock),
    }
    for source, requirements in sources.items():
        asked = set()
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            asked.add(name)
            candidates = [pin for pin in by_name.get(name, []) if pin.meets(requirement)]
            if not candidates:
                problems.append(f"{requirement} ({source}) is not in {lock.name}: run `make lock`")
            for pin in candidates:
                if not requirement.specifier.contains(pin.version, prereleases=True):
                    problems.append(
                        f"{requirement} ({source}) but {lock.name} pins {name}=={pin.version}: run `make lock`"
                    )
                elif source not in pin.via:
                    problems.append(f"{name} ({source}) was not resolved from it in {lock.name}: run `make lock`")
        for pin in pins:
            if source in pin.via and pin.name not in asked:
                problems.append(
                    f"{lock.name} has {pin.name} from {source}, which no longer asks for it: run `make lock`"
                )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("installed", "pyproject"):
        print(__doc__, file=sys.stderr)
        return 2
    lock = Path(argv[1]).resolve()
    if argv[0] == "installed":
        diff = check_installed(lock)
        print(f"pip freeze diff against {lock.name}: {'empty' if not diff else f'{len(diff)} line(s)'}")
        for line in diff:
            print(f"  {line}")
    else:
        diff = check_pyproject(lock)
        print(f"pyproject.toml and {lock.name}: {'agree' if not diff else 'disagree'}")
        for line in diff:
            print(f"  {line}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
