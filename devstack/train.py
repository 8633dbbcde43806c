"""`make train`: train the Rasa model only when its training data or configuration changed.

The fingerprint is a hash of the files' contents, not their timestamps, so a fresh clone or a
`git checkout` that changes nothing real does not retrain.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

from devstack._stack import ROOT

MODEL = ROOT / "models" / "civicdesk.tar.gz"
FINGERPRINT = ROOT / "models" / "civicdesk.fingerprint"
# Two `make train` runs at once (two terminals, parallel test jobs) would write the same
# archive; the second waits for the first and then finds the model up to date.
LOCK = ROOT / "models" / ".train.lock"
TRAINING_DATA = ("nlu", "bot")
CONFIGURATION = ("config.yml", "domain.yml")


def training_inputs() -> list[Path]:
    """Every file whose content decides the model, in a stable order."""
    files = [ROOT / name for name in CONFIGURATION]
    for folder in TRAINING_DATA:
        files += sorted((ROOT / folder).rglob("*.yml"))
    return files


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in training_inputs():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def main() -> int:
    LOCK.parent.mkdir(exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _train_if_changed()


def _train_if_changed() -> int:
    current = fingerprint()
    if MODEL.is_file() and FINGERPRINT.is_file() and FINGERPRINT.read_text().strip() == current:
        print(f"Model is up to date ({MODEL.relative_to(ROOT)}); not retraining.")
        return 0
    print("Training the Rasa model (training data or configuration changed)...", flush=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "--data",
            *TRAINING_DATA,
            "--domain",
            "domain.yml",
            "--config",
            "config.yml",
            "--out",
            "models",
            "--fixed-model-name",
            MODEL.name.removesuffix(".tar.gz"),
        ],
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        print("Training failed; see Rasa's messages above.", file=sys.stderr)
        return result.returncode
    FINGERPRINT.write_text(current + "\n")
    print(f"Model trained: {MODEL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
