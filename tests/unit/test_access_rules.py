"""access/rules.py: parsing the rules of the setting and of the rules file, and deciding by them."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiif_server.access.base import AccessDecision, AccessLevel, AccessRequest, AccessRule, Reader
from iiif_server.access.rules import (
    RULES_FILE_CHECK_SECONDS, AccessRules, RulesWithFile, load_access_rules, parse_restricted_prefixes, parse_rules_file,
)
from iiif_server.settings import Settings, SettingsError

ARCHIVIST = Reader("lan", frozenset({"archivists"}))
VISITOR = Reader("minh", frozenset({"visitors"}))
RULES = AccessRules((
    AccessRule("personnel", AccessLevel.RESTRICTED, frozenset({"archivists"})),
    AccessRule("personnel/1946/public-notice", AccessLevel.PUBLIC),
    AccessRule("closed", AccessLevel.RESTRICTED),
    AccessRule("reading-room-only", AccessLevel.READING_ROOM),
    AccessRule("maps-room", AccessLevel.READING_ROOM, frozenset({"cartographers"})),
))
TERMINAL = Reader("terminal-3", frozenset({"reading-room"}))
CARTOGRAPHER = Reader("hoa", frozenset({"cartographers"}))


@pytest.mark.parametrize(("identifier", "reader", "decision"), [
    pytest.param("letters/1", None, AccessDecision.ALLOW, id="no rule: public as before"),
    pytest.param("closed/a", None, AccessDecision.DENY, id="restricted: anonymous refused"),
    pytest.param("closed", None, AccessDecision.DENY, id="the prefix itself is covered"),
    pytest.param("closed-not/a", None, AccessDecision.ALLOW, id="a prefix covers folders, not name starts"),
    pytest.param("closed/a", VISITOR, AccessDecision.ALLOW, id="restricted without groups: any signed-in reader"),
    pytest.param("personnel/1946/file", VISITOR, AccessDecision.DENY, id="restricted to groups: others refused"),
    pytest.param("personnel/1946/file", ARCHIVIST, AccessDecision.ALLOW, id="restricted to groups: members allowed"),
    pytest.param("personnel/1946/public-notice", None, AccessDecision.ALLOW, id="the longest prefix wins"),
    pytest.param("reading-room-only/a", VISITOR, AccessDecision.DENY, id="reading-room: other signed-in readers refused"),
    pytest.param("reading-room-only/a", TERMINAL, AccessDecision.ALLOW, id="reading-room without groups: the reading-room group"),
    pytest.param("maps-room/a", TERMINAL, AccessDecision.DENY, id="reading-room with groups: only those groups"),
    pytest.param("maps-room/a", CARTOGRAPHER, AccessDecision.ALLOW, id="reading-room with groups: members allowed"),
])
def test_decisions(identifier, reader, decision):
    assert RULES.decide(AccessRequest(identifier, reader)) is decision


def test_rule_for_names_the_governing_rule():
    assert RULES.rule_for("personnel/1946/public-notice").level is AccessLevel.PUBLIC
    assert RULES.rule_for("personnel/2001").groups == {"archivists"}
    assert RULES.rule_for("letters") is None


def test_restricted_prefixes_setting():
    assert parse_restricted_prefixes(" closed/ , personnel:archivists|lawyers,") == (
        AccessRule("closed", AccessLevel.RESTRICTED),
        AccessRule("personnel", AccessLevel.RESTRICTED, frozenset({"archivists", "lawyers"})),
    )


def test_rules_file():
    text = '{"rules": [{"prefix": "fonds-7/dossier-3", "level": "restricted", "groups": ["archivists"]},' \
           ' {"prefix": "fonds-7/dossier-3/cover", "level": "public"}]}'
    assert parse_rules_file(text, "access.json") == (
        AccessRule("fonds-7/dossier-3", AccessLevel.RESTRICTED, frozenset({"archivists"})),
        AccessRule("fonds-7/dossier-3/cover", AccessLevel.PUBLIC),
    )


@pytest.mark.parametrize(("text", "complaint"), [
    ("{", "not JSON"),
    ('{"rules": {}}', 'list "rules"'),
    ('{"rules": [{"level": "public"}]}', 'rule 1: needs a string "prefix"'),
    ('{"rules": [{"prefix": "a", "level": "secret"}]}', "unknown access level 'secret'"),
    ('{"rules": [{"prefix": "a", "level": "public", "groups": "x"}]}', '"groups" must be a list'),
    ('{"rules": [{"prefix": "/", "level": "public"}]}', "empty prefix"),
])
def test_bad_rules_files_name_the_problem(text, complaint):
    with pytest.raises(SettingsError, match="access.json") as raised:
        parse_rules_file(text, "access.json")
    assert complaint in str(raised.value)


def test_two_rules_for_one_prefix_are_an_error():
    with pytest.raises(SettingsError, match="'closed' has more than one rule"):
        AccessRules(parse_restricted_prefixes("closed, closed:archivists"))


def test_load_merges_the_setting_and_the_file(tmp_path: Path):
    rules_file = tmp_path / "access.json"
    rules_file.write_text('{"rules": [{"prefix": "dossier", "level": "restricted"}]}')
    rules = load_access_rules(Settings(restricted_prefixes="closed", access_rules_file=rules_file))
    assert {rule.prefix for rule in rules.current().rules} == {"closed", "dossier"}
    with pytest.raises(SettingsError, match="access_rules_file"):
        load_access_rules(Settings(access_rules_file=tmp_path / "missing.json"))


def test_settings_and_file_combine_the_most_specific_prefix_winning(tmp_path: Path):
    rules_file = tmp_path / "access.json"
    rules_file.write_text('{"rules": [{"prefix": "fonds-7/letter", "level": "public"},'
                          ' {"prefix": "open/diary", "level": "restricted"}]}')
    rules = load_access_rules(Settings(restricted_prefixes="fonds-7, open/diary/p1:archivists", access_rules_file=rules_file))
    assert rules.decide(AccessRequest("fonds-7/letter/p1")) is AccessDecision.ALLOW  # the file opens one item
    assert rules.decide(AccessRequest("fonds-7/other/p1")) is AccessDecision.DENY  # of the setting's folder
    assert rules.rule_for("open/diary/p1").groups == {"archivists"}  # the setting narrows one of the file's
    assert rules.rule_for("open/diary/p2").groups == frozenset()


def test_the_rules_file_is_read_again_when_the_build_replaces_it(tmp_path: Path, caplog):
    rules_file = tmp_path / "access.json"
    rules_file.write_text('{"rules": [{"prefix": "dossier", "level": "restricted"}]}')
    now = [100.0]
    rules = RulesWithFile((), rules_file, clock=lambda: now[0])
    replacement = tmp_path / "new.json"
    replacement.write_text('{"rules": [{"prefix": "dossier", "level": "restricted"}, {"prefix": "diary", "level": "restricted"}]}')
    replacement.replace(rules_file)  # as the build's swap does: a new file under the old name
    assert rules.rule_for("diary/p1") is None  # looked at once a second at most
    now[0] += RULES_FILE_CHECK_SECONDS
    assert rules.rule_for("diary/p1").level is AccessLevel.RESTRICTED
    rules_file.write_text("{not json")
    now[0] += RULES_FILE_CHECK_SECONDS
    assert rules.rule_for("diary/p1").level is AccessLevel.RESTRICTED  # a broken file opens nothing
    assert "access rules kept as they were" in caplog.text
    rules_file.unlink()
    now[0] += RULES_FILE_CHECK_SECONDS
    assert rules.rule_for("dossier").level is AccessLevel.RESTRICTED


@pytest.mark.parametrize(("identifier", "prefix"), [
    pytest.param("a/b/c/d", "a/b", id="the nearest folder with a rule"),
    pytest.param("a/b", "a/b", id="the identifier itself"),
    pytest.param("a/bc", "a", id="a prefix covers folders, not name starts"),
    pytest.param("z/b", None, id="no covering rule"),
])
def test_rule_lookup_walks_up_the_folders(identifier, prefix):
    rules = AccessRules((AccessRule("a", AccessLevel.RESTRICTED), AccessRule("a/b", AccessLevel.PUBLIC)))
    rule = rules.rule_for(identifier)
    assert (rule.prefix if rule else None) == prefix
