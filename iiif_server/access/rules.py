"""Access rules: from the ``restricted_prefixes`` setting and from the rules file the manifest build
writes (``access_rules_file``). Parsing and deciding are pure; ``load_access_rules`` reads the file,
and ``RulesWithFile`` reads it again whenever the build replaces it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from iiif_server.access.base import AccessDecision, AccessLevel, AccessRequest, AccessRule
from iiif_server.settings import Settings, SettingsError

log = logging.getLogger("iiif_server")
# How often the rules file is looked at (one stat): a rebuilt file governs requests within this time.
RULES_FILE_CHECK_SECONDS = 1.0


class AccessRules:
    """An AccessPolicy over a fixed set of rules: the rule with the longest prefix covering an
    identifier governs it (a public rule can open one item of a restricted folder); no rule, public."""

    def __init__(self, rules: tuple[AccessRule, ...] = ()) -> None:
        prefixes = [rule.prefix for rule in rules]
        repeated = sorted({prefix for prefix in prefixes if prefixes.count(prefix) > 1})
        if repeated:
            raise SettingsError(f"access rules: {repeated[0]!r} has more than one rule")
        self.rules = rules
        self._by_prefix = {rule.prefix: rule for rule in rules}

    def rule_for(self, identifier: str) -> AccessRule | None:
        # The identifier, then each folder above it: the first with a rule is the longest covering
        # prefix, found in as many lookups as the identifier has segments, however many rules there are.
        candidate = identifier
        while True:
            rule = self._by_prefix.get(candidate)
            if rule is not None or "/" not in candidate:
                return rule
            candidate = candidate.rpartition("/")[0]

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


def load_access_rules(settings: Settings) -> AccessRules | RulesWithFile:
    """The rules of the settings and of the rules file; a file that cannot be read at start is an error."""
    rules = parse_restricted_prefixes(settings.restricted_prefixes)
    if settings.access_rules_file is None:
        return AccessRules(rules)
    return RulesWithFile(rules, settings.access_rules_file)


FileIdentity = tuple[int, int, int, int]  # device, inode, size, mtime_ns: a replaced file changes it


class RulesWithFile:
    """An AccessPolicy over the settings' rules and the rules file's, combined in one AccessRules (the
    longest prefix wins, wherever it was written). The file is looked at once a second at most and
    read again when it was replaced or changed (the build swaps in a new output folder), so rebuilt
    rules govern without a restart. A changed file that cannot be read or parsed leaves the rules as
    they were (logged): a broken build never opens what the previous rules closed. Thread-safe."""

    def __init__(self, setting_rules: tuple[AccessRule, ...], path: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.setting_rules = setting_rules
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        read = self._read()
        if isinstance(read, str):
            raise SettingsError(read)
        self._identity, self._rules = read
        self._checked_at = clock()

    def _read(self) -> tuple[FileIdentity, AccessRules] | str:
        """The file's identity and the combined rules, or why they cannot be had."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                stat = os.fstat(handle.fileno())
                text = handle.read()
            identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            return identity, AccessRules(self.setting_rules + parse_rules_file(text, str(self.path)))
        except OSError as error:
            return f"access_rules_file {self.path}: {error.strerror}"
        except UnicodeDecodeError:
            return f"access_rules_file {self.path}: not UTF-8 text"
        except SettingsError as error:
            return str(error)

    def current(self) -> AccessRules:
        """The rules now in force, after a look at the file when a second has passed."""
        with self._lock:
            now = self._clock()
            if now - self._checked_at < RULES_FILE_CHECK_SECONDS:
                return self._rules
            self._checked_at = now
            try:
                stat = os.stat(self.path)
                identity: FileIdentity | None = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            except OSError:
                identity = None
            if identity is not None and identity == self._identity:
                return self._rules
            read = self._read()
            if isinstance(read, str):
                log.error("access rules kept as they were: %s", read)
                return self._rules
            self._identity, self._rules = read
            return self._rules

    def rule_for(self, identifier: str) -> AccessRule | None:
        return self.current().rule_for(identifier)

    def decide(self, request: AccessRequest) -> AccessDecision:
        return self.current().decide(request)
