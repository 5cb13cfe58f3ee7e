"""Access rules: from the ``restricted_prefixes`` setting and from the rules file the manifest build
writes (``access_rules_file``). Parsing and deciding are pure; ``load_access_rules`` reads the file."""

from __future__ import annotations

import json
from pathlib import Path

from iiif_server.access.base import AccessDecision, AccessLevel, AccessRequest, AccessRule
from iiif_server.settings import Settings, SettingsError


class AccessRules:
    """An AccessPolicy over a fixed set of rules: the rule with the longest prefix covering an
    identifier governs it (a public rule can open one item of a restricted folder); no rule, public."""

    def __init__(self, rules: tuple[AccessRule, ...] = ()) -> None:
        prefixes = [rule.prefix for rule in rules]
        repeated = sorted({prefix for prefix in prefixes if prefixes.count(prefix) > 1})
        if repeated:
            raise SettingsError(f"access rules: {repeated[0]!r} has more than one rule")
        # Longest first, so the first covering rule is the most specific one.
        self.rules = tuple(sorted(rules, key=lambda rule: len(rule.prefix), reverse=True))

    def rule_for(self, identifier: str) -> AccessRule | None:
        return next((rule for rule in self.rules if rule.covers(identifier)), None)

    def decide(self, request: AccessRequest) -> AccessDecision:
        rule = self.rule_for(request.identifier)
        return AccessDecision.ALLOW if rule is None or rule.admits(request.reader) else AccessDecision.DENY


def _rule(prefix: str, level: str, groups: list[str] | tuple[str, ...], where: str) -> AccessRule:
    prefix = prefix.strip().strip("/")
    if not prefix:
        raise SettingsError(f"{where}: an empty prefix would cover every image")
    try:
        access_level = AccessLevel(level)
    except ValueError:
        known = ", ".join(member.value for member in AccessLevel)
        raise SettingsError(f"{where}: unknown access level {level!r} (known: {known})") from None
    cleaned = frozenset(group.strip() for group in groups if group.strip())
    return AccessRule(prefix, access_level, cleaned)


def parse_restricted_prefixes(setting: str) -> tuple[AccessRule, ...]:
    """``"closed, personnel:archivists|lawyers"``: restricted prefixes, each optionally limited to groups."""
    rules = []
    for entry in (part.strip() for part in setting.split(",")):
        if entry:
            prefix, _, groups = entry.partition(":")
            rules.append(_rule(prefix, AccessLevel.RESTRICTED.value, groups.split("|"), "restricted_prefixes"))
    return tuple(rules)


def parse_rules_file(text: str, source: str) -> tuple[AccessRule, ...]:
    """The rules file: ``{"rules": [{"prefix": "...", "level": "restricted", "groups": ["..."]}, ...]}``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source}: not JSON ({error})") from None
    entries = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f"{source}: expected an object with a list \"rules\"")
    rules = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: rule {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("prefix"), str):
            raise SettingsError(f"{where}: needs a string \"prefix\"")
        groups = entry.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise SettingsError(f"{where}: \"groups\" must be a list of strings")
        rules.append(_rule(entry["prefix"], str(entry.get("level", "")), groups, where))
    return tuple(rules)


def load_access_rules(settings: Settings) -> AccessRules:
    """The rules of the settings and of the rules file, read once at start."""
    rules = parse_restricted_prefixes(settings.restricted_prefixes)
    path: Path | None = settings.access_rules_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SettingsError(f"access_rules_file {path}: {error.strerror}") from None
        rules += parse_rules_file(text, str(path))
    return AccessRules(rules)
