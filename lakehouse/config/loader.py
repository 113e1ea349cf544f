"""Read a project's zone, environment and project YAML into typed models, reporting every problem
at once. Assembling them with the zone graph and the suites is ``lakehouse.project``'s job.

A project directory holds ``zones/*.yml`` (one zone each), ``env/<name>.yml`` (one per target) and
``project.yml`` (where its expectation suites are; optional while the defaults fit).
Nothing here touches Spark, so a broken config fails in a fraction of a second.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lakehouse.config.models import Environment, KeyedError, ProjectSettings, Zone
from lakehouse.errors import ConfigError, Problem

PROJECT_FILE = "project.yml"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 reads a join's ``on:`` key as True."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _no_duplicate_keys(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "a key must be plain text", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.construct_mapping = _no_duplicate_keys  # a repeated key would silently override the first

UNREADABLE = object()  # the file's problem is already reported: do not validate it too


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(Problem(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                "check indentation, repeated keys, and quote values that contain ':' or '#'"))
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot read: {exc.strerror}"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), f"byte {exc.start}", "not UTF-8 text", "save the file as UTF-8"))
    return UNREADABLE


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_HINTS = {
    "extra_forbidden": "remove it, or check its spelling against the README's reference",
    "missing": "add this key",
    "literal_error": "",
    "string_type": "quote the value or give text",
    "list_type": "give a YAML list (- item per line)",
    "dict_type": "give a YAML mapping (key: value per line)",
}


def _validate(model: type[BaseModel], data: Any, path: Path, problems: list[Problem], shape_hint: str) -> Any:
    if data is UNREADABLE:
        return None
    if not isinstance(data, dict):
        problems.append(Problem(str(path), "", "expected a YAML mapping at the top level", shape_hint))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            message, loc = err["msg"].removeprefix("Value error, "), err["loc"]
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, KeyedError):
                message, loc = cause.message, (*loc, *cause.key)
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(Problem(str(path), _key_path(loc), message, _HINTS.get(err["type"], "")))
    return None


def _expand(value: Any) -> Any:
    """${VAR} and ${VAR:-default} in env files, so one file serves a laptop and CI."""
    if isinstance(value, str):
        # As in the shell, an empty variable takes the default too.
        return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1)) or m.group(2) or "", value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _absolute(location: str) -> str:
    return location if _URI.match(location) else str(Path(location).expanduser().resolve())


def load_environment(config_dir: Path, name: str, overrides: dict[str, Any] | None = None) -> Environment:
    problems: list[Problem] = []
    path = config_dir / "env" / f"{name}.yml"
    if not path.exists():
        known = sorted(p.stem for p in (config_dir / "env").glob("*.yml"))
        raise ConfigError([Problem(str(path), "", f"no environment named {name!r}",
                                   f"use --env with one of: {', '.join(known) or '(none found)'}")])
    data = _read_yaml(path, problems)
    if isinstance(data, dict):
        data = {"name": name, **_expand(data), **(overrides or {})}
    env = _validate(Environment, data, path, problems,
                    "give landing_root, lake_root, database and reports_root, one 'key: value' per line")
    if problems:
        raise ConfigError(problems)
    roots = {k: _absolute(getattr(env, k)) for k in ("landing_root", "lake_root", "reports_root")}
    return env.model_copy(update=roots)


def load_settings(config_dir: Path) -> ProjectSettings:
    """project.yml: what the zones share (suites folder, erasure key, maintenance); defaults if absent."""
    path = config_dir / PROJECT_FILE
    if not path.exists():
        return ProjectSettings()
    problems: list[Problem] = []
    data = _read_yaml(path, problems)
    settings = _validate(ProjectSettings, {} if data is None else data, path, problems,
                         "see the README's project.yml section for the keys it takes")
    if problems:
        raise ConfigError(problems)
    return settings


def load_suites_dir(config_dir: Path, settings: ProjectSettings) -> Path:
    """The folder of the project's suites, as project.yml says (relative to it), and it must exist:
    a project copied without its suites must not quietly run unguarded."""
    path = config_dir / PROJECT_FILE
    folder = (config_dir / settings.expectations).resolve()
    if not folder.is_dir():
        given = "" if path.exists() else f" (the default, as {path} does not exist)"
        raise ConfigError([Problem(str(path), "expectations", f"{settings.expectations!r}{given} names "
                                   f"{folder}, which is not a folder",
                                   f"set 'expectations:' in {path} to the folder holding the <table>.json "
                                   "suites, relative to that file")])
    return folder


def load_zones(config_dir: Path) -> tuple[dict[str, Zone], dict[str, Path]]:
    problems: list[Problem] = []
    zone_dir = config_dir / "zones"
    paths = sorted([*zone_dir.glob("*.yml"), *zone_dir.glob("*.yaml")])
    if not paths:
        raise ConfigError([Problem(str(zone_dir), "", "no zone files (*.yml) found",
                                   "point --config-dir at a project folder holding zones/ and env/")])
    zones: dict[str, Zone] = {}
    files: dict[str, Path] = {}
    for path in paths:
        zone = _validate(Zone, _read_yaml(path, problems), path, problems,
                         "start the file with 'name: ...' and the other keys of a zone (see README)")
        if zone is None:
            continue
        if zone.name in zones:
            problems.append(Problem(str(path), "name", f"zone {zone.name!r} is also defined in {files[zone.name]}",
                                    "give every zone a unique name"))
            continue
        zones[zone.name], files[zone.name] = zone, path
    if problems:
        raise ConfigError(problems)
    return zones, files
