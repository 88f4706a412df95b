"""The built-in search space as one table, and a user's overrides of it (``search_space=``).

One table per modality says, for every hyperparameter, what the built-in search samples and what
the model builder accepts (hpopt.spec's bounds). Validation of a search-space file and sampling
(hpopt.search_space) both read it, so a parameter can never be accepted here and ignored there.

An override is written the way a person writes YAML: a list is a set of choices, a mapping
``{low, high, log, step}`` a range, a scalar a fixed value. Stdlib + PyYAML only: the CLI checks
the file before TensorFlow is imported.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, get_args

from hpopt.spec import Activation, Initializer, Optimizer

if TYPE_CHECKING:
    import optuna

__all__ = ["SearchSpaceError", "PARAMETERS", "Space", "check_overrides", "guess_modality", "load_space_file",
           "effective_space"]

Kind = Literal["int", "float", "bool", "choice"]
Modality = Literal["image", "text"]
# A parameter's spec: a list of choices, a range mapping, or one fixed value.
ParamSpec = Union[list[Any], dict[str, Any], str, int, float, bool]
RANGE_KEYS = ("low", "high", "log", "step")
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
# Every optimizer's learning rate is a distribution of its own name (adam keeps the plain name), so the
# sampler never mixes their scales; ``learning_rate`` in a file sets all three unless one is given.
LR_NAMES = {"adam": "learning_rate", "rmsprop": "rmsprop_learning_rate", "sgd": "sgd_learning_rate"}


class SearchSpaceError(ValueError):
    """A search-space override the built-in space cannot take; str() is the one line to show."""

    exit_code = 2


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, the built-in search (``default``) and what the model accepts."""

    kind: Kind
    default: ParamSpec
    low: Optional[float] = None  # numeric kinds: the spec's bounds
    high: Optional[float] = None
    low_open: bool = False  # low itself not allowed (learning rates > 0)
    choices: tuple[Any, ...] = ()  # kind "choice": every allowed value
    searched: bool = True  # False: the built-in default is a constant, not an Optuna parameter
    note: str = ""  # when the parameter applies, for the README and errors

    def allowed(self) -> str:
        if self.kind == "choice":
            return ", ".join(str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        lo = f"{self.low:g} {'<' if self.low_open else '≤'} " if self.low is not None else ""
        return f"{'an integer' if self.kind == 'int' else 'a number'} {lo}x ≤ {self.high:g}"


def _lr(optimizer: str) -> Param:
    low, high = {"adam": (5e-4, 3e-3), "rmsprop": (3e-4, 2e-3), "sgd": (1e-2, 1e-1)}[optimizer]
    return Param("float", {"low": low, "high": high, "log": True}, 0.0, 1.0, low_open=True,
                 note=f"used when optimizer is {optimizer}")


_COMMON = {
    "optimizer": Param("choice", list(OPTIMIZERS), choices=OPTIMIZERS),
    **{name: _lr(opt) for opt, name in LR_NAMES.items()},
    "dropout": Param("float", {"low": 0.0, "high": 0.5, "step": 0.1}, 0.0, 0.8),
}
# Per modality, in sampling order. The built-in ranges leave out what trained to chance level or far
# below the rest on small data (bench/baseline_gap.py); the bounds are what hpopt.spec accepts.
PARAMETERS: dict[Modality, dict[str, Param]] = {
    "image": {
        "optimizer": _COMMON["optimizer"],
        "conv_layers": Param("int", {"low": 1, "high": 3}, 1, 4),
        "pooling": Param("choice", ["flatten", "global_avg"], choices=("flatten", "global_avg"),
                         note="searched from 3 conv layers; shallower stacks always flatten"),
        "hidden_layers": Param("int", {"low": 1, "high": 2}, 1, 4),
        "hidden_shrink": Param("float", {"low": 0.5, "high": 1.0, "step": 0.25}, 0.25, 1.0,
                               note="used when hidden_layers > 1"),
        "filters": Param("int", [16, 32, 64], 4, 256),
        "kernel_size": Param("choice", [3, 5], choices=(3, 5)),
        "activation": Param("choice", list(get_args(Activation)), choices=get_args(Activation)),
        "kernel_initializer": Param("choice", list(get_args(Initializer)), choices=get_args(Initializer)),
        "batch_norm": Param("bool", [False, True]),
        "hidden_units": Param("int", [64, 128, 256], 8, 2048),
        "dropout": _COMMON["dropout"],
        **{name: _COMMON[name] for name in LR_NAMES.values()},
        "batch_size": Param("int", [32, 64, 128], 1, 4096),
    },
    "text": {
        "optimizer": _COMMON["optimizer"],
        "embedding_dim": Param("int", [32, 64, 128], 4, 1024),
        "lstm_units": Param("int", [32, 64, 128], 4, 1024),
        "bidirectional": Param("bool", [False, True]),
        "hidden_units": Param("int", [32, 64, 128], 8, 2048),
        "activation": Param("choice", "relu", choices=get_args(Activation), searched=False,
                            note="of the dense layer after the LSTM"),
        "dropout": _COMMON["dropout"],
        **{name: _COMMON[name] for name in LR_NAMES.values()},
        "batch_size": Param("int", [16, 32, 64], 1, 4096),
    },
}
NOT_IN_FILE = {"epochs": "epochs is set by min_epochs_per_trial and max_epochs_per_trial",
               "kind": "the architecture kind follows from the dataset's modality"}


def guess_modality(dataset: str) -> Optional[Modality]:
    """The dataset's modality when it is known without loading it (an .npz says so only inside)."""
    from hpopt.datasets.registry import BUILTIN_DATASETS, builtin_name  # light: no TensorFlow

    name = builtin_name(dataset)
    if name is not None:
        return BUILTIN_DATASETS[name].modality
    path = Path(dataset)
    if path.is_dir():
        return "image"
    return "text" if path.suffix.lower() in (".csv", ".tsv", ".txt") else None


def load_space_file(path: str) -> dict[str, Any]:
    """The mapping a YAML file holds (yaml.safe_load: never constructs objects)."""
    import yaml

    file = Path(path).expanduser()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SearchSpaceError(f"cannot read search space file {str(file)!r}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise SearchSpaceError(f"{file}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict) or not data:
        raise SearchSpaceError(f"{file}: expected a mapping of parameter: choices, range or value, "
                               f"e.g. 'optimizer: adam'")
    return data


def _is_number(value: Any) -> bool:
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer beyond any float (JSON allows them)
        return False


def _check_value(where: str, name: str, param: Param, value: Any) -> Any:
    """``value`` as the parameter's type, or SearchSpaceError naming what is allowed."""
    bad = f"{where}: {name}={value!r} is not allowed: expected {param.allowed()}"
    if param.kind == "choice":
        for choice in param.choices:
            if value == choice and type(value) is type(choice):
                return choice
        close = difflib.get_close_matches(str(value), [str(c) for c in param.choices], n=1, cutoff=0.75)
        raise SearchSpaceError(bad + (f" — did you mean {close[0]!r}?" if close else ""))
    if param.kind == "bool":
        if isinstance(value, bool):
            return value
        raise SearchSpaceError(bad)
    if not _is_number(value) or (param.kind == "int" and not float(value).is_integer()):
        raise SearchSpaceError(bad)
    number = int(value) if param.kind == "int" else float(value)
    too_low = param.low is not None and (number <= param.low if param.low_open else number < param.low)
    if too_low or (param.high is not None and number > param.high):
        raise SearchSpaceError(bad)
    return number


def _check_range(where: str, name: str, param: Param, spec: dict[str, Any]) -> dict[str, Any]:
    if param.kind not in ("int", "float"):
        raise SearchSpaceError(f"{where}: {name} takes choices or one value, not a range: allowed {param.allowed()}")
    for key in spec:
        if key not in RANGE_KEYS:
            close = difflib.get_close_matches(str(key), RANGE_KEYS, n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise SearchSpaceError(f"{where}: {name} has unknown range key {key!r}{hint}; allowed low, high, log, step")
    if "low" not in spec or "high" not in spec:
        raise SearchSpaceError(f"{where}: {name} range needs low and high, e.g. {{low: 1, high: 3}}")
    low, high = (_check_value(where, f"{name}.{key}", param, spec[key]) for key in ("low", "high"))
    if low > high:
        raise SearchSpaceError(f"{where}: {name} range is inverted: low={low:g} > high={high:g}")
    if low == high:
        raise SearchSpaceError(f"{where}: {name} range is empty (low = high = {low:g}); write '{name}: {low:g}' "
                               "to fix the value")
    out: dict[str, Any] = {"low": low, "high": high}
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SearchSpaceError(f"{where}: {name}.log={log!r} is not allowed: expected true or false")
    step = spec.get("step")
    if step is not None:
        out["step"] = _check_step(where, name, param, step, log, high - low)
    if log:
        if low <= 0:
            raise SearchSpaceError(f"{where}: {name} range on a log scale needs low > 0 (low={low:g})")
        out["log"] = True
    return out


def _check_step(where: str, name: str, param: Param, step: Any, log: bool, width: float) -> Union[int, float]:
    if not _is_number(step) or step <= 0 or (param.kind == "int" and not float(step).is_integer()):
        raise SearchSpaceError(f"{where}: {name}.step={step!r} is not allowed: expected a positive "
                               f"{'integer' if param.kind == 'int' else 'number'}")
    if log:
        raise SearchSpaceError(f"{where}: {name} cannot have both log and step (Optuna samples one or the other)")
    if step > width:
        raise SearchSpaceError(f"{where}: {name} range is empty: step={step:g} is wider than high - low")
    return int(step) if param.kind == "int" else float(step)


def _check_one(where: str, name: str, param: Param, spec: Any) -> ParamSpec:
    if isinstance(spec, list):
        if not spec:
            raise SearchSpaceError(f"{where}: {name} has an empty list of choices: allowed {param.allowed()}")
        values = [_check_value(where, name, param, v) for v in spec]
        return list(dict.fromkeys(values))  # a repeated choice would only weigh it twice
    if isinstance(spec, dict):
        return _check_range(where, name, param, spec)
    if spec is None:
        raise SearchSpaceError(f"{where}: {name} has no value: write choices [a, b], a range {{low, high}} "
                               "or one value")
    return _check_value(where, name, param, spec)


def _unknown(where: str, name: str, table: dict[str, Param], modality: Optional[Modality]) -> SearchSpaceError:
    if name in NOT_IN_FILE:
        return SearchSpaceError(f"{where}: {name} is not a search-space parameter: {NOT_IN_FILE[name]}")
    other = [m for m in PARAMETERS if m != modality and name in PARAMETERS[m]]
    if modality and other:
        arch = "CNN (image data)" if modality == "image" else "LSTM (text data)"
        return SearchSpaceError(f"{where}: {name} is not a parameter of the {arch} search space; allowed "
                                + ", ".join(table))
    close = difflib.get_close_matches(str(name), list(table), n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return SearchSpaceError(f"{where}: unknown parameter {name!r}{hint}; allowed " + ", ".join(table))


def check_overrides(overrides: dict[str, Any], modality: Optional[Modality], where: str) -> dict[str, Any]:
    """The overrides normalized (ints as ints, repeats dropped), or SearchSpaceError naming the
    parameter; ``modality`` None (not known yet): each must fit the CNN or the LSTM space."""
    if not isinstance(overrides, dict) or not overrides:
        raise SearchSpaceError(f"{where}: expected a mapping of parameter: choices, range or value")
    if modality is not None:
        table = PARAMETERS[modality]
        out = {}
        for name, spec in overrides.items():
            if name not in table:
                raise _unknown(where, str(name), table, modality)
            out[str(name)] = _check_one(where, str(name), table[name], spec)
        return out
    union = {**PARAMETERS["text"], **PARAMETERS["image"]}
    for name in overrides:
        if name not in union:
            raise _unknown(where, str(name), union, None)
    fitting = [m for m in PARAMETERS if all(name in PARAMETERS[m] for name in overrides)]
    if not fitting:
        raise SearchSpaceError(f"{where}: mixes CNN (image) and LSTM (text) parameters; one file fits one kind")
    errors = []
    for candidate in fitting:  # the first modality every override fits
        try:
            return check_overrides(overrides, candidate, where)
        except SearchSpaceError as exc:
            errors.append(exc)
    raise errors[0]


class Space:
    """The effective space of one run: the built-in table with the overrides applied."""

    def __init__(self, modality: Modality, overrides: Optional[dict[str, Any]] = None,
                 activation: Optional[str] = None, where: str = "search_space") -> None:
        self.modality = modality
        self.table = PARAMETERS[modality]
        self.overrides = check_overrides(overrides, modality, where) if overrides else {}
        self.fixed_activation = activation  # the activation= key: a constant, not a parameter

    def spec(self, name: str) -> ParamSpec:
        if name in self.overrides:
            return self.overrides[name]
        if name in LR_NAMES.values() and "learning_rate" in self.overrides:
            return self.overrides["learning_rate"]
        if name == "activation" and self.fixed_activation:
            return self.fixed_activation
        return self.table[name].default

    def is_parameter(self, name: str) -> bool:
        """Whether ``name`` is an Optuna parameter of this run (False: a constant)."""
        if name == "activation" and self.fixed_activation:
            return False
        return name in self.overrides or (name in LR_NAMES.values() and "learning_rate" in self.overrides) or \
            self.table[name].searched

    def suggest(self, trial: "optuna.Trial", name: str) -> Any:
        """The value of ``name`` for this trial: fixed values are single-choice parameters, so
        trial.params shows them as every other value."""
        spec = self.spec(name)
        if not self.is_parameter(name):
            return spec
        if isinstance(spec, list):
            return trial.suggest_categorical(name, spec)
        if isinstance(spec, dict):
            args = dict(log=spec.get("log", False))
            if self.table[name].kind == "int":
                return trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step", 1), **args)
            return trial.suggest_float(name, spec["low"], spec["high"], step=spec.get("step"), **args)
        return trial.suggest_categorical(name, [spec])

    def contains(self, name: str, value: Any) -> bool:
        """Whether ``value`` is one ``name`` can take here (an enqueued trial must fit the space)."""
        spec = self.spec(name)
        if isinstance(spec, list):
            return any(value == c and type(value) is type(c) for c in spec)
        if isinstance(spec, dict):
            if not spec["low"] <= value <= spec["high"]:
                return False
            step = spec.get("step")
            return step is None or math.isclose((value - spec["low"]) / step, round((value - spec["low"]) / step))
        return value == spec

    def fit(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` less the values outside this space (they are sampled instead)."""
        return {k: v for k, v in params.items()
                if k not in self.table or (self.is_parameter(k) and self.contains(k, v))}

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as the run searches it, in the file's own notation."""
        return {name: copy.deepcopy(self.spec(name)) for name in self.table}


def effective_space(overrides: Optional[dict[str, Any]], modality: Modality,
                    activation: Optional[str] = None) -> dict[str, Any]:
    """The run's whole space (for search_space.yaml and summary.json)."""
    return Space(modality, overrides, activation).to_dict()
