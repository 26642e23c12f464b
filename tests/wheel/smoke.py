"""``make wheel-check``: the built wheel, installed into a clean venv, works without the checkout.

Run with that venv's interpreter from outside the repository. It checks that the provider is
imported from site-packages (not the checkout), imports every module of the package, finds the
package data the emulator and the type checkers need, resolves Airflow's provider entry point, and
then runs the demo DAG (``python -m airflow_provider_vidgen.demo``) against the installed package.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import subprocess
import sys
import sysconfig
from pathlib import Path

PACKAGE = "airflow_provider_vidgen"
DATA_FILES = ("py.typed", "emulator/sample.mp4", "emulator/sample.jpg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dags-folder", required=True, help="the checkout's dags_examples (not in the wheel)")
    parser.add_argument("--workdir", required=True, help="AIRFLOW_HOME and logs of the demo run")
    args = parser.parse_args()

    package = importlib.import_module(PACKAGE)
    root = Path(package.__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert root.is_relative_to(site), f"{PACKAGE} was imported from {root}, not from the venv's {site}"
    direct_url = importlib.metadata.distribution("airflow-provider-vidgen").read_text("direct_url.json") or ""
    assert '"editable": true' not in direct_url, "the provider is installed editable, not from the wheel"

    modules = [info.name for info in pkgutil.walk_packages([str(root)], prefix=f"{PACKAGE}.")]
    for name in modules:
        importlib.import_module(name)
    print(f"imported {len(modules) + 1} modules of {PACKAGE} from {root}")

    missing = [name for name in DATA_FILES if not (root / name).is_file()]
    assert not missing, f"package data missing from the wheel: {missing}"
    print(f"package data present: {', '.join(DATA_FILES)}")

    entries = importlib.metadata.entry_points(group="apache_airflow_provider")
    (entry,) = [e for e in entries if e.value.startswith(PACKAGE)]
    info = entry.load()()
    assert info["package-name"] == "airflow-provider-vidgen" and info["versions"] == [package.__version__]
    for hook in info["connection-types"]:
        module, _, name = hook["hook-class-name"].rpartition(".")
        getattr(importlib.import_module(module), name)
    kinds = len(info["connection-types"])
    print(f"provider entry point: {info['name']} {package.__version__}, {kinds} connection types")

    demo = [sys.executable, "-m", f"{PACKAGE}.demo", "--dags-folder", args.dags_folder, "--workdir", args.workdir]
    return subprocess.run(demo, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
