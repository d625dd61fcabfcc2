"""The Chinese docs say what the English ones say: the same commands, settings, ports and paths, and only real ones.

A bureau's engineers read README.zh-CN.md and docs/zh-CN/ first, so a command or a setting added to an English
page and not to its Chinese twin (or the other way round) is a deployer following stale instructions. This
test reads each (English, Chinese) pair and compares the *names* each one uses: `make` targets, `campusguard`
subcommands, `CAMPUSGUARD_*` environment variables, settings keys, ports (and other numbers written as code) and
file or URL paths. Names are taken from code (inline spans and blocks, parsed as CommonMark does, shell comments
left out since they are translated) because that is where a deployer copies from; environment variables from
anywhere in the text. Then every variable, `make` target and subcommand any page
names must exist, so a setting renamed in the code fails here too. Pure file reading: no services.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin

import pytest
from markdown_it import MarkdownIt
from pydantic import BaseModel

from campusguard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ZH_DOCS = ROOT / "docs" / "zh-CN"
# The deployer docs the issue asks for in Chinese; each English page's twin has the same name under docs/zh-CN/.
REQUIRED = ("ingest.md", "jt808.md", "gt06.md", "mqtt.md", "security.md", "video.md", "push.md", "deploy.md")
# Chinese pages whose English lives elsewhere: the deployment guide is docker/README.md together with the
# commented docker/env.example it tells the deployer to fill in (read as one code block).
ENGLISH_OF: dict[str, tuple[Path, ...]] = {
    "deploy.md": (ROOT / "docker" / "README.md", ROOT / "docker" / "env.example"),
}

ENV_VAR = re.compile(r"CAMPUSGUARD_[A-Z0-9][A-Z0-9_]*\*?")
MAKE_TARGET = re.compile(r"(?<![\w.-])make[ \t]+([a-z][a-z0-9-]*)")
SUBCOMMAND = re.compile(r"(?<![\w.-])campusguard[ \t]+([a-z][a-z0-9-]*)(?:[ \t]+([a-z][a-z0-9-]*))?")
ABBREVIATED_VAR = re.compile(r"__[A-Z0-9][A-Z0-9_]*\*?")  # `__JT808_PORT` after its full name in a table row
KEY = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")
PORT_IN_CODE = re.compile(r"(?<=[\w\]]:)(\d{2,5})\b")
# A shell comment in a code block ("make demo    # set everything up"): prose, translated, so not compared. A '#'
# followed by several spaces is kept: env.example indents the commands it quotes ("#   docker compose ...").
SHELL_COMMENT = re.compile(r"(?:^|(?<=\s))# (?=\S).*$", re.MULTILINE)
FILE_SUFFIX = re.compile(r"\.(?:py|md|ya?ml|sql|json|sh|conf|env|ts|mp4|sqlite|js|html|webmanifest|jpg|png)$")


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation holds (a section, or an optional one)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    elif get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            yield from _models_in(arg)


def _settings_names(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str]]:
    """(environment variable, field name) for every field, sections included (a section may be set as JSON)."""
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        yield env, name
        for section in _models_in(field.annotation):
            yield from _settings_names(section, env + "__")


SETTINGS = list(_settings_names(Settings, "CAMPUSGUARD_"))
VALID_ENV = {env for env, _ in SETTINGS}
FIELD_NAMES = {name for _, name in SETTINGS}
# Variables docker/compose.yaml interpolates itself (the image tag), not settings of the processes.
COMPOSE_VARS = set(re.findall(r"\$\{(CAMPUSGUARD_[A-Z0-9_]+)", (ROOT / "docker" / "compose.yaml").read_text()))
# Variables the tests, benches and dev tools read from the environment themselves (beside the product, which
# reads none but through Settings), e.g. CAMPUSGUARD_UPDATE_SCREENSHOTS=1 to rewrite the README's pictures.
HARNESS_READ = re.compile(r"(?:environ(?:\.get)?\s*[\[(]\s*|getenv\(\s*)\"(CAMPUSGUARD_[A-Z0-9_]+)\"")
HARNESS_VARS = {name for folder in ("tests", "devtools", "bench", "scripts") for path in (ROOT / folder).rglob("*.py")
                for name in HARNESS_READ.findall(path.read_text())}


def _cli_commands() -> set[str]:
    """Every `campusguard` subcommand, as 'name' or 'group name', read from the command line's source."""
    source = (ROOT / "campusguard" / "cli.py").read_text()
    groups = dict(re.findall(r"add_typer\((\w+), name=\"([\w-]+)\"\)", source))
    commands = set(groups.values())
    for app, given, function in re.findall(r"@(\w+)\.command\((?:\"([\w-]+)\")?[^)]*\)\s*\ndef (\w+)", source):
        name = given or function.replace("_", "-")
        commands.add(f"{groups[app]} {name}" if app in groups else name)
    commands.update(re.findall(r"app\.command\(\)\((\w+)\)", source))
    return commands


CLI_COMMANDS = _cli_commands()
CLI_GROUPS = {command for command in CLI_COMMANDS if any(c.startswith(command + " ") for c in CLI_COMMANDS)}
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z0-9_-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


@dataclass(frozen=True, slots=True)
class Names:
    """What one page names, by kind."""

    by_kind: dict[str, set[str]]


def _code_of(text: str) -> tuple[list[str], list[str]]:
    """The page's inline code spans and its code blocks (fenced or indented), as CommonMark reads them."""
    spans: list[str] = []
    blocks: list[str] = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type in ("fence", "code_block"):
            blocks.append(SHELL_COMMENT.sub("", token.content))
        for child in token.children or ():
            if child.type == "code_inline":
                spans.append(child.content)
    return spans, blocks


def _path_tokens(code: str) -> Iterator[str]:
    """Tokens of code that are file paths, API routes or URLs (runs of ASCII: a comment may be in Chinese)."""
    for raw in re.split(r"[^\x21-\x7e…]+", code):
        token = raw.lstrip("(['\"`").rstrip(")],;:.'\"`")
        if len(token) > 1 and re.search(r"[A-Za-z0-9]", token) and ("/" in token or FILE_SUFFIX.search(token)):
            yield token


def names_of(text: str) -> Names:
    """Every name a page uses that its twin must use too."""
    spans, blocks = _code_of(text)
    code = spans + blocks
    kinds: dict[str, set[str]] = {kind: set() for kind in
                                  ("make target", "campusguard command", "environment variable", "settings key",
                                   "number", "path")}
    kinds["environment variable"].update(ENV_VAR.findall(text))
    for piece in code:
        kinds["make target"].update(MAKE_TARGET.findall(piece))
        for first, second in SUBCOMMAND.findall(piece):
            kinds["campusguard command"].add(f"{first} {second}" if first in CLI_GROUPS and second else first)
        kinds["number"].update(PORT_IN_CODE.findall(piece))
        kinds["path"].update(_path_tokens(piece))
    for span in spans:
        bare = span.strip()
        if ABBREVIATED_VAR.fullmatch(bare):
            kinds["environment variable"].add(bare)
        key = re.sub(r"\[.*\]$", "", bare.split("=")[0].strip())
        if KEY.fullmatch(key) and key.split(".")[-1] in FIELD_NAMES:
            kinds["settings key"].add(key)
        if bare.isdigit() and 10 <= int(bare) <= 65535:
            kinds["number"].add(bare)
    return Names(kinds)


def pairs() -> list[tuple[tuple[Path, ...], Path]]:
    """(English sources, Chinese page) for the README and every page under docs/zh-CN/."""
    found: list[tuple[tuple[Path, ...], Path]] = [((ROOT / "README.md",), ROOT / "README.zh-CN.md")]
    for chinese in sorted(ZH_DOCS.glob("*.md")):
        found.append((ENGLISH_OF.get(chinese.name, (ROOT / "docs" / chinese.name,)), chinese))
    return found


def _markdown(path: Path) -> str:
    """A page's text as markdown; a file that is not markdown (docker/env.example) is one code block."""
    text = path.read_text()
    return text if path.suffix == ".md" else f"```\n{text}\n```\n"


def _names_of_all(paths: tuple[Path, ...]) -> Names:
    """The names of several English sources together (one Chinese page may translate two files)."""
    merged: dict[str, set[str]] = {}
    for path in paths:
        for kind, names in names_of(_markdown(path)).by_kind.items():
            merged.setdefault(kind, set()).update(names)
    return Names(merged)


def _rel(path: Path) -> str:
    """A path as the failure messages name it, from the repository root."""
    return str(path.relative_to(ROOT))


def test_every_deployer_doc_has_a_chinese_twin() -> None:
    missing = [name for name in REQUIRED if not (ZH_DOCS / name).is_file()]
    assert not missing, f"docs/zh-CN/ lacks {', '.join(missing)}"
    assert (ROOT / "README.zh-CN.md").is_file()
    for sources, chinese in pairs():
        for english in sources:
            assert english.is_file(), f"{_rel(chinese)} translates {_rel(english)}, which does not exist"


def test_each_readme_links_the_other() -> None:
    english_head = (ROOT / "README.md").read_text().splitlines()[:5]
    chinese_head = (ROOT / "README.zh-CN.md").read_text().splitlines()[:5]
    assert any("README.zh-CN.md" in line for line in english_head), "README.md's top lines do not link README.zh-CN.md"
    assert any("README.md" in line for line in chinese_head), "README.zh-CN.md's top lines do not link README.md"


def out_of_step(en: Names, zh: Names, english: str, chinese: str) -> list[str]:
    """Each name one side uses and the other does not, saying which page lacks it and where it is named."""
    problems = []
    for kind in en.by_kind:
        for name in sorted(en.by_kind[kind] - zh.by_kind[kind]):
            problems.append(f"{chinese} lacks {kind} {name!r}, named in {english}")
        for name in sorted(zh.by_kind[kind] - en.by_kind[kind]):
            problems.append(f"{english} lacks {kind} {name!r}, named in {chinese}")
    return problems


@pytest.mark.parametrize(("english", "chinese"), pairs(), ids=[_rel(zh) for _, zh in pairs()])
def test_chinese_and_english_name_the_same_things(english: tuple[Path, ...], chinese: Path) -> None:
    problems = out_of_step(_names_of_all(english), names_of(chinese.read_text()),
                           " + ".join(_rel(path) for path in english), _rel(chinese))
    assert not problems, "the pages are out of step:\n" + "\n".join(problems)


def _all_pages() -> list[Path]:
    """Every page compared, English and Chinese."""
    return sorted({page for sources, chinese in pairs() for page in (*sources, chinese)})


def _env_var_exists(name: str) -> bool:
    """A full name, a prefix written with '*' or a trailing '_', or an abbreviated '__SUFFIX' of a real one."""
    if name.startswith("__"):
        return any(env.endswith(name.rstrip("*")) for env in VALID_ENV)
    if name.endswith(("*", "_")):
        return any(env.startswith(name.rstrip("*")) for env in VALID_ENV)
    return name in VALID_ENV or name in COMPOSE_VARS or name in HARNESS_VARS


def test_every_environment_variable_named_is_a_setting() -> None:
    unknown = [f"{_rel(page)}: {name}" for page in _all_pages()
               for name in sorted(names_of(_markdown(page)).by_kind["environment variable"])
               if not _env_var_exists(name)]
    assert not unknown, "named in the docs but no setting reads it:\n" + "\n".join(unknown)


def test_every_command_named_exists() -> None:
    unknown = []
    for page in _all_pages():
        names = names_of(_markdown(page)).by_kind
        unknown += [f"{_rel(page)}: make {t}" for t in sorted(names["make target"]) if t not in MAKE_TARGETS]
        unknown += [f"{_rel(page)}: campusguard {c}" for c in sorted(names["campusguard command"])
                    if c not in CLI_COMMANDS]
    assert not unknown, "named in the docs but not there:\n" + "\n".join(unknown)


def test_names_are_read_from_code_the_way_a_deployer_copies_them() -> None:
    # The extraction itself, on a page written for it: prose mentions do not count, code does.
    page = ("Run `make demo SITE=district` or `.venv/bin/campusguard site load x.yaml`; to make sure, set\n"
            "`CAMPUSGUARD_INGEST__JT808_ENABLED`, `__JT808_PORT` (`7611`) and `ingest.http_allow`.\n\n"
            "    campusguard serve &\n    curl http://127.0.0.1:8080/health\n")
    names = names_of(page).by_kind
    assert names["make target"] == {"demo"}
    assert names["campusguard command"] == {"site load", "serve"}
    assert names["environment variable"] == {"CAMPUSGUARD_INGEST__JT808_ENABLED", "__JT808_PORT"}
    assert names["settings key"] == {"ingest.http_allow"}
    assert names["number"] == {"7611", "8080"}
    assert {".venv/bin/campusguard", "x.yaml", "http://127.0.0.1:8080/health"} <= names["path"]


def test_a_page_out_of_step_is_named_with_what_it_lacks() -> None:
    # A setting and a command added to the English page only; a path the Chinese page alone names.
    english = names_of("Set `CAMPUSGUARD_INGEST__GT06_PORT` and run `campusguard db migrate`.\n\n"
                       "    make demo    # docs/geo.md is in a comment: not a name\n")
    chinese = names_of("运行 `make demo` 参见 `docs/zh-CN/jt808.md`\n")
    assert out_of_step(english, chinese, "docs/x.md", "docs/zh-CN/x.md") == [
        "docs/zh-CN/x.md lacks campusguard command 'db migrate', named in docs/x.md",
        "docs/zh-CN/x.md lacks environment variable 'CAMPUSGUARD_INGEST__GT06_PORT', named in docs/x.md",
        "docs/x.md lacks path 'docs/zh-CN/jt808.md', named in docs/zh-CN/x.md",
    ]
