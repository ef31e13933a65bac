"""Search configuration: the default YAML shipped in the package, a user YAML on top, flags on top.

Every leaf key of ``default_search.yaml`` is a dotted flag of ``nas search`` (``--strategy.n_trials 12``)
and can also be set with ``--set strategy.n_trials=12``. ``dataset`` and ``training`` are passed as
keyword arguments to ``evaluators.DatasetConfig`` / ``evaluators.TrainConfig``, so their keys are those
classes' fields. Invalid input raises :class:`ConfigError` naming the key and the allowed values.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

OBJECTIVE_NAMES = ("accuracy", "latency", "size")
STRATEGY_NAMES = ("nsga2", "tpe", "random", "reward", "keras-tuner")
KERAS_TUNER_ORACLES = ("bayesian", "hyperband")
PROFILER_KINDS = ("local", "remote")
BACKEND_NAMES = ("local", "ray")
# Sections whose keys belong to another package's config class; checked there, not here.
FREE_FORM_SECTIONS = ("dataset", "training")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key and what is allowed."""


PROFILER_TOKEN_ENV = "EDGE_PROFILER_TOKEN"


def read_profiler_token(token_file: str | None) -> str | None:
    """The bearer token for the profiler agents: from ``token_file``, else ``$EDGE_PROFILER_TOKEN``."""
    import os

    if token_file:
        path = Path(token_file).expanduser()
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"profiler.token_file: cannot read {path}: {exc.strerror or exc}") from exc
        if not token:
            raise ConfigError(f"profiler.token_file: {path} is empty")
        return token
    return os.environ.get(PROFILER_TOKEN_ENV) or None


@dataclasses.dataclass(frozen=True)
class StudySettings:
    name: str
    storage: str | None
    runs_dir: Path
    seed: int

    @property
    def study_dir(self) -> Path:
        return self.runs_dir / self.name


@dataclasses.dataclass(frozen=True)
class ConstraintSettings:
    max_latency_ms: float | None
    max_size_bytes: int | None
    min_accuracy: float | None

    @property
    def active(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


@dataclasses.dataclass(frozen=True)
class RewardSettings:
    target_latency_ms: float
    exponent: float


@dataclasses.dataclass(frozen=True)
class KerasTunerSettings:
    oracle: str
    max_epochs: int


@dataclasses.dataclass(frozen=True)
class StrategySettings:
    name: str
    n_trials: int
    timeout_s: float | None
    population_size: int
    reward: RewardSettings
    keras_tuner: KerasTunerSettings


@dataclasses.dataclass(frozen=True)
class ProfilerSettings:
    kind: str
    urls: tuple[str, ...]
    token_file: str | None
    threads: int
    warmup_runs: int
    runs: int
    min_seconds: float
    use_xnnpack: bool

    def read_token(self) -> str | None:
        """The agents' bearer token from ``token_file``, else ``$EDGE_PROFILER_TOKEN``, else None.

        The token itself is never part of the configuration: the study records its configuration.
        """
        return read_profiler_token(self.token_file)

    def measure_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``edge_profiler.client.*Profiler.measure``."""
        return {
            "threads": self.threads,
            "warmup_runs": self.warmup_runs,
            "runs": self.runs,
            "min_seconds": self.min_seconds,
            "use_xnnpack": self.use_xnnpack,
        }


@dataclasses.dataclass(frozen=True)
class BackendSettings:
    name: str
    address: str | None
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int | None
    max_failures: int


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """The validated configuration of one search. ``as_dict()`` is stored in the study."""

    study: StudySettings
    search_space_source: str
    search_space_resolutions: tuple[int, ...] | None
    search_space_channels: int | None
    dataset: dict[str, Any]
    training: dict[str, Any]
    objectives: tuple[str, ...]
    constraints: ConstraintSettings
    strategy: StrategySettings
    reference_baseline: str | None
    profiler: ProfilerSettings
    backend: BackendSettings
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @property
    def storage_url(self) -> str:
        """The Optuna storage URL; SQLite in the study folder unless one is configured."""
        if self.study.storage:
            return self.study.storage
        return f"sqlite:///{(self.study.study_dir / 'study.db').as_posix()}"

    @property
    def max_concurrent_trials(self) -> int:
        """Concurrency bound: never more trials at once than profiler agents (Pis not oversubscribed)."""
        agents = len(self.profiler.urls) if self.profiler.kind == "remote" else 1
        if self.backend.max_concurrent is None:
            return agents
        return min(self.backend.max_concurrent, agents)

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def default_config_dict() -> dict[str, Any]:
    """The packaged default configuration as a plain dict."""
    text = resources.files("nas.config").joinpath("default_search.yaml").read_text(encoding="utf-8")
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
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(user, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(user).__name__}")
        _merge(merged, user, prefix="")
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for key, value in items:
        _set_dotted(merged, key, _parse_value(value))
    return build_config(merged)


def _merge(base: dict[str, Any], user: Mapping[str, Any], prefix: str) -> None:
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(_unknown_key_message(dotted, base, prefix))
        if isinstance(base[key], dict) and key not in FREE_FORM_SECTIONS:
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


# ---- validation -------------------------------------------------------------------------------


def _choice(key: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _number(key: str, value: Any, *, minimum: float | None = None, integer: bool = False,
            optional: bool = False, strictly_positive: bool = False) -> Any:
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        extra = " or null" if optional else ""
        raise ConfigError(f"{key}: expected {kind}{extra}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: must be >= {minimum}, got {value!r}")
    if strictly_positive and value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def _string(key: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string{' or null' if optional else ''}, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def build_config(tree: Mapping[str, Any]) -> SearchConfig:
    """Validate a merged config dict and freeze it into a :class:`SearchConfig`."""
    t = copy.deepcopy(dict(tree))
    profiler_section = t.get("profiler")
    if isinstance(profiler_section, dict) and "token" in profiler_section:
        # Studies recorded before `profiler.token_file` held the token itself; user input never reaches
        # here with that key (see _unknown_key_message), so this is an old record: forget the secret.
        profiler_section.pop("token")
        profiler_section.setdefault("token_file", None)
    study_name = _string("study.name", t["study"]["name"])
    if "/" in study_name or study_name in (".", ".."):
        raise ConfigError(f"study.name: {study_name!r} must be a plain folder name without '/'")
    study = StudySettings(
        name=study_name,
        storage=_string("study.storage", t["study"]["storage"], optional=True),
        runs_dir=Path(_string("study.runs_dir", t["study"]["runs_dir"])),
        seed=_number("study.seed", t["study"]["seed"], integer=True),
    )

    source = _string("search_space.source", t["search_space"]["source"])
    if source != "default" and not Path(source).is_file():
        raise ConfigError(f"search_space.source: {source!r} is neither 'default' nor an existing YAML file")
    resolutions = t["search_space"]["resolutions"]
    if resolutions is not None:
        if isinstance(resolutions, int):
            resolutions = [resolutions]
        if not isinstance(resolutions, list) or not resolutions:
            raise ConfigError(f"search_space.resolutions: expected a list of pixel sizes or null, got {resolutions!r}")
        resolutions = tuple(_number("search_space.resolutions", r, integer=True, minimum=8) for r in resolutions)
    channels = t["search_space"]["channels"]
    if channels is not None and channels not in (1, 3):
        raise ConfigError(f"search_space.channels: {channels!r} is not one of 1, 3, null")

    for section in FREE_FORM_SECTIONS:
        if not isinstance(t[section], dict):
            raise ConfigError(f"{section}: expected a mapping of field: value, got {t[section]!r}")

    objectives = t["objectives"]
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",") if o.strip()]
    if not isinstance(objectives, list) or not objectives:
        raise ConfigError(f"objectives: expected a non-empty list drawn from {', '.join(OBJECTIVE_NAMES)}, got {objectives!r}")
    for name in objectives:
        _choice("objectives", name, OBJECTIVE_NAMES)
    if len(set(objectives)) != len(objectives):
        raise ConfigError(f"objectives: {objectives!r} lists an objective twice")
    t["objectives"] = objectives

    c = t["constraints"]
    constraints = ConstraintSettings(
        max_latency_ms=_number("constraints.max_latency_ms", c["max_latency_ms"], optional=True, strictly_positive=True),
        max_size_bytes=_number("constraints.max_size_bytes", c["max_size_bytes"], optional=True, integer=True, strictly_positive=True),
        min_accuracy=_number("constraints.min_accuracy", c["min_accuracy"], optional=True, minimum=0.0),
    )
    if constraints.min_accuracy is not None and constraints.min_accuracy > 1.0:
        raise ConfigError(f"constraints.min_accuracy: a fraction in [0, 1], got {constraints.min_accuracy!r}")

    s = t["strategy"]
    strategy = StrategySettings(
        name=_choice("strategy.name", s["name"], STRATEGY_NAMES),
        n_trials=_number("strategy.n_trials", s["n_trials"], integer=True, minimum=1),
        timeout_s=_number("strategy.timeout_s", s["timeout_s"], optional=True, strictly_positive=True),
        population_size=_number("strategy.population_size", s["population_size"], integer=True, minimum=2),
        reward=RewardSettings(
            target_latency_ms=_number("strategy.reward.target_latency_ms", s["reward"]["target_latency_ms"], strictly_positive=True),
            exponent=_number("strategy.reward.exponent", s["reward"]["exponent"]),
        ),
        keras_tuner=KerasTunerSettings(
            oracle=_choice("strategy.keras_tuner.oracle", s["keras_tuner"]["oracle"], KERAS_TUNER_ORACLES),
            max_epochs=_number("strategy.keras_tuner.max_epochs", s["keras_tuner"]["max_epochs"], integer=True, minimum=1),
        ),
    )
    if strategy.name in ("reward", "keras-tuner") and "accuracy" not in objectives:
        raise ConfigError(f"strategy.name: {strategy.name!r} optimizes the MnasNet reward, which needs 'accuracy' in objectives")

    reference = t["reference"]["baseline"]
    reference = _string("reference.baseline", reference, optional=True)

    p = t["profiler"]
    urls = p["urls"] or []
    if isinstance(urls, str):
        urls = [u.strip() for u in urls.split(",") if u.strip()]
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise ConfigError(f"profiler.urls: expected a list of agent URLs, got {p['urls']!r}")
    profiler = ProfilerSettings(
        kind=_choice("profiler.kind", p["kind"], PROFILER_KINDS),
        urls=tuple(urls),
        token_file=_string("profiler.token_file", p["token_file"], optional=True),
        threads=_number("profiler.threads", p["threads"], integer=True, minimum=1),
        warmup_runs=_number("profiler.warmup_runs", p["warmup_runs"], integer=True, minimum=0),
        runs=_number("profiler.runs", p["runs"], integer=True, minimum=1),
        min_seconds=_number("profiler.min_seconds", p["min_seconds"], minimum=0.0),
        use_xnnpack=_bool("profiler.use_xnnpack", p["use_xnnpack"]),
    )
    if profiler.kind == "remote" and not profiler.urls:
        raise ConfigError("profiler.urls: profiler.kind 'remote' needs at least one agent URL")

    b = t["backend"]
    backend = BackendSettings(
        name=_choice("backend.name", b["name"], BACKEND_NAMES),
        address=_string("backend.address", b["address"], optional=True),
        cpus_per_trial=_number("backend.cpus_per_trial", b["cpus_per_trial"], strictly_positive=True),
        gpus_per_trial=_number("backend.gpus_per_trial", b["gpus_per_trial"], minimum=0.0),
        max_concurrent=_number("backend.max_concurrent", b["max_concurrent"], optional=True, integer=True, minimum=1),
        max_failures=_number("backend.max_failures", b["max_failures"], integer=True, minimum=0),
    )
    if backend.name == "ray" and strategy.name == "keras-tuner":
        raise ConfigError("backend.name: 'ray' runs Optuna strategies (nsga2, tpe, random, reward), not 'keras-tuner'")

    t["profiler"]["urls"] = list(urls)
    return SearchConfig(
        study=study,
        search_space_source=source,
        search_space_resolutions=resolutions,
        search_space_channels=channels,
        dataset=dict(t["dataset"]),
        training=dict(t["training"]),
        objectives=tuple(objectives),
        constraints=constraints,
        strategy=strategy,
        reference_baseline=reference,
        profiler=profiler,
        backend=backend,
        raw=t,
    )


def build_dataclass(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """``cls(**values)`` with a :class:`ConfigError` naming the unknown field and the allowed ones."""
    if dataclasses.is_dataclass(cls):
        allowed = [f.name for f in dataclasses.fields(cls) if f.init]
        for key in values:
            if key not in allowed:
                raise ConfigError(f"unknown config key '{section}.{key}'; allowed keys: {', '.join(allowed)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from None

