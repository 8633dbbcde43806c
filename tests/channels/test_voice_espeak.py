"""Every reply the bot can give, as the voice channel speaks it, synthesised by espeak-ng:
valid SSML (espeak-ng reads it with -m) and no part longer than 30 seconds of speech.

The texts are the bot's own (``domain.yml``, placeholders filled with long values) and the
catalogue's questions with all their options as buttons, the longest choices there are.
espeak-ng comes from Debian (``scripts/install-espeak.sh``); without it this test fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from channels.voice import speak_document, speak_turn

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "backoffice/src/civicdesk_backoffice/catalogue"
MAX_SECONDS = 30.0
# Long stand-ins for the placeholders the bot fills in.
FILLERS = {
    "service_request_id": "CD-7KQ2XM",
    "step": "4",
    "total": "6",
}
LONG_VALUE = "Roads, Pavements and Street Furniture Maintenance Department"


def _bot_turns() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for name, variants in domain["responses"].items():
        for index, variant in enumerate(variants):
            text = re.sub(
                r"\{(\w+)\}",
                lambda m: FILLERS.get(m.group(1), LONG_VALUE),
                str(variant.get("text") or ""),
            )
            yield f"{name}[{index}]", [{"text": text, "buttons": variant.get("buttons") or []}]


def _catalogue_turns() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for path in sorted(CATALOGUE.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for service in data.get("services") or []:
            for attribute in service.get("attributes") or []:
                values = attribute.get("values") or []
                if not values:
                    continue
                buttons = [
                    {"title": v["name"], "payload": f'/choose_option{{"choice": "{v["key"]}"}}'}
                    for v in values
                ]
                buttons += [{"title": "Skip", "payload": "/skip"}]
                text = f"Step 3 of 6: {attribute.get('description', '')}"
                yield f"{service['code']}.{attribute['code']}", [{"text": text, "buttons": buttons}]


TURNS = [*_bot_turns(), *_catalogue_turns()]


def _seconds_of(ssml: str, out: Path) -> float:
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing: run scripts/install-espeak.sh"
    # The bot's Chinese replies are read by espeak-ng's Mandarin voice, the rest in English.
    voice = "cmn" if re.search(r"[\u3400-\u9fff]", ssml) else "en"
    done = subprocess.run(
        [espeak, "-v", voice, "-m", "-w", str(out), ssml],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stderr.strip(), done.stderr
    with wave.open(str(out)) as audio:
        return audio.getnframes() / audio.getframerate()


def test_the_turns_cover_the_bot_and_the_catalogue() -> None:
    assert len(TURNS) > 100
    assert any(len(turn[0]["buttons"]) >= 6 for _, turn in TURNS)


@pytest.mark.parametrize(("name", "turn"), TURNS, ids=[name for name, _ in TURNS])
def test_no_spoken_part_is_over_30_seconds(
    name: str, turn: list[dict[str, Any]], tmp_path: Path
) -> None:
    speech = speak_turn(turn)
    for index, part in enumerate(speech.parts):
        document = speak_document(part)
        ElementTree.fromstring(document)  # well-formed, or this raises
        assert "http" not in part
        seconds = _seconds_of(document, tmp_path / f"part{index}.wav")
        assert 0 < seconds <= MAX_SECONDS, f"{name} part {index}: {seconds:.1f} s"


def test_espeak_ng_spells_a_reference_and_no_punctuation_after_it() -> None:
    """The markup the channel puts around a reference has its effect: letter by letter, and
    the full stop after it is a pause, not the word "dot"."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing: run scripts/install-espeak.sh"
    document = speak_document(speak_turn([{"text": "Your reference is CD-7KQ2XM."}]).parts[0])
    done = subprocess.run(
        [espeak, "-m", "-q", "-x", document], capture_output=True, text=True, timeout=60
    )
    phonemes = done.stdout
    # C, D, seven, K, Q, two, X, M: each letter its own word, and no "dot" at the end.
    assert phonemes.count("_|") >= 5, phonemes
    assert "d'0t" not in phonemes, phonemes
