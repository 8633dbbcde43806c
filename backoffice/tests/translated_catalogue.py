"""The test catalogue (data/catalogue.yml) with a zh-Hans translation, for locale tests.

Kept as data in one place so the catalogue tests and the serving tests agree on the words.
"""

# ruff: noqa: RUF001 (Chinese text is written with full-width punctuation on purpose)

from __future__ import annotations

import copy
from typing import Any

import yaml

from civicdesk_backoffice.catalogue import Catalogue, parse_catalogue
from tests.conftest import TEST_CATALOGUE

ZH_HANS: dict[str, Any] = {
    "groups": {
        "streets": "道路设施",
        "cleaning": "市容清洁",
        "waste": "垃圾清运",
        "transport": "交通",
    },
    "departments": {
        "Street Lighting": "路灯管理所",
        "Street Cleaning": "市容环卫处",
        "Licensing": "许可审批科",
    },
    "services": {
        "street_light": {
            "name": "路灯不亮",
            "description": "路灯晚上不亮或一闪一闪。",
            "keywords": ["路灯", "街灯"],
            "synonyms": ["灯杆"],
            "attributes": {
                "fault": {
                    "description": "路灯出了什么问题？",
                    "values": {"out": "晚上不亮", "flickering": "一闪一闪"},
                },
                "pole_number": "灯杆上的编号（如果有）。",
                "lights_affected": "有几盏灯有问题？",
                "noticed_at": "您什么时候发现的？",
                "hazards": {
                    "description": "有没有危险？",
                    "values": {"dark": "街上很黑", "wires": "电线露在外面"},
                },
                "details": "还有别的情况吗？",
            },
        },
        "graffiti": {"name": "乱涂乱画", "description": "公共墙面上的涂鸦。", "keywords": ["涂鸦"]},
        "bulky_waste": {
            "name": "大件垃圾清运",
            "description": "预约上门收走家具或家电。",
            "keywords": ["旧沙发", "旧冰箱"],
            "location_question": "我们去哪里收这些东西？",
        },
        "licence_renewal": {
            "name": "驾驶证换证",
            "description": "驾驶证到期前后换证。",
            "keywords": ["驾照到期", "驾驶证换证"],
            "photo_question": "请拍一张您现在的驾驶证。",
            "attributes": {"licence_number": "您的驾驶证号码是多少？"},
        },
    },
}


def translated_raw(version: int = 2) -> dict[str, Any]:
    """The test catalogue's data with ``ZH_HANS`` added, as ``parse_catalogue`` takes it."""
    raw = yaml.safe_load(TEST_CATALOGUE.read_text(encoding="utf-8"))
    raw["version"] = version
    raw["translations"] = {"zh-Hans": copy.deepcopy(ZH_HANS)}
    return dict(raw)


def translated_catalogue(version: int = 2) -> Catalogue:
    """The test catalogue with its zh-Hans translation, validated."""
    return parse_catalogue(translated_raw(version), source="translated test catalogue")
