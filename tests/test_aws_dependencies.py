"""setup.cfg's requirements as Glue installs them: ranges for what Glue may already ship, exact pins
only where runtime parity needs them."""
from __future__ import annotations

import configparser
from importlib.metadata import version

from packaging.requirements import Requirement

from tests.conftest import ROOT

# GX: quarantining rests on its exact behaviour; pyspark and delta-spark: Glue 5.1's own versions.
EXACT = {"great-expectations"}
EXACT_IN_SPARK_EXTRA = {"pyspark", "delta-spark"}


def _requirements(value: str) -> list[Requirement]:
    return [Requirement(line.strip()) for line in value.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_install_requires_pins_exactly_only_what_needs_it():
    requirements = _requirements(_setup_cfg()["options"]["install_requires"])
    assert {r.name for r in requirements} >= EXACT | {"pydantic", "click", "rich", "pyyaml"}
    for requirement in requirements:
        operators = {spec.operator for spec in requirement.specifier}
        if requirement.name in EXACT:
            assert operators == {"=="}, requirement
        else:
            assert operators and not operators & {"==", "==="}, f"{requirement} is an exact pin"
            assert "<" in operators, f"{requirement} has no upper bound: a major release could break the job"


def test_the_installed_versions_satisfy_the_ranges():
    for requirement in _requirements(_setup_cfg()["options"]["install_requires"]):
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed), f"{requirement.name} {installed} is outside {requirement}"


def test_glue_runtime_parity_pins_stay_exact():
    spark = {r.name: r for r in _requirements(_setup_cfg()["options.extras_require"]["spark"])}
    for name in EXACT_IN_SPARK_EXTRA:
        assert {s.operator for s in spark[name].specifier} == {"=="}, spark[name]
