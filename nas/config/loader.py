"""Search configuration input: the default YAML shipped in the package, a user YAML on top, flags on top.

Every leaf key of ``default_search.yaml`` is a dotted flag of ``nas search`` (``--strategy.n_trials 12``)
and can also be set with ``--set strategy.n_trials=12``. ``dataset`` and ``training`` take any field
of ``evaluators.DatasetConfig`` / ``evaluators.TrainConfig`` (checked by :mod:`nas.config.validate`).
An unknown key raises :class:`~nas.config.settings.ConfigError` listing the keys allowed there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nas.config.settings import PROFILER_TOKEN_ENV, ConfigError, SearchConfig
from nas.config.validate import build_config

DEFAULT_CONFIG_FILE = "default_search.yaml"
# Sections whose keys are another package's dataclass fields: any key may be set, validate checks it.
FREE_FORM_SECTIONS = ("dataset", "training")


def default_config_dict() -> dict[str, Any]:
    """The packaged default configuration as a plain dict."""
    text = resources.files("nas.config").joinpath(DEFAULT_CONFIG_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def leaf_keys(tree: Mapping[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Dotted names of every leaf of the default config (the keys a flag can set)."""
    tree = default_config_dict() if tree is None else tree
    keys: list[str] = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys.extend(leaf_keys(value, dotted + "."))
        else:
            keys.append(dotted)
    return keys


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", value)`` with the value parsed as YAML (numbers, lists, null)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key.path=value")
    return key.strip(), _parse_value(value)


def _parse_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        return value


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | Sequence[tuple[str, Any]] = (),
) -> SearchConfig:
    """Default config, then the YAML file at ``path``, then ``overrides`` (dotted key -> value)."""
    merged = default_config_dict()
    if path is not None:
        _merge(merged, read_user_yaml(Path(path)), prefix="")
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for key, value in items:
        _set_dotted(merged, key, _parse_value(value))
    return build_config(merged)


def read_user_yaml(path: Path) -> dict[str, Any]:
    """A user's config file: a mapping of sections (an empty file is an empty mapping)."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(user, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(user).__name__}")
    return user


def _merge(base: dict[str, Any], user: Mapping[str, Any], prefix: str) -> None:
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(_unknown_key_message(dotted, base, prefix))
        if isinstance(base[key], dict) and not (key in FREE_FORM_SECTIONS and not prefix):  # top-level only
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: expected a mapping with keys {sorted(base[key])}, got {value!r}")
            _merge(base[key], value, dotted + ".")
        elif key in FREE_FORM_SECTIONS and not prefix:
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: expected a mapping of field: value, got {value!r}")
            base[key].update(value)
        else:
            base[key] = value


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        prefix = ".".join(parts[:depth])
        if part not in node or not isinstance(node[part], dict):
            raise ConfigError(_unknown_key_message(".".join(parts[: depth + 1]), node, prefix + "." if prefix else ""))
        node = node[part]
        if part in FREE_FORM_SECTIONS and depth == 0:
            node[".".join(parts[1:])] = value
            return
    last = parts[-1]
    if last not in node:
        prefix = ".".join(parts[:-1])
        raise ConfigError(_unknown_key_message(dotted, node, prefix + "." if prefix else ""))
    node[last] = value


def _unknown_key_message(dotted: str, node: Mapping[str, Any], prefix: str) -> str:
    allowed = ", ".join(f"{prefix}{k}" for k in node)
    message = f"unknown config key {dotted!r}; allowed keys here: {allowed}"
    if dotted == "profiler.token":
        message += (f" (the study records its config, so the token itself is not a key: put it in a file named by "
                    f"profiler.token_file, or in ${PROFILER_TOKEN_ENV})")
    return message
