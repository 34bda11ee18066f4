"""Every package documents itself: purpose, public interface, a PlantUML class diagram, its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

NUNET = Path(__file__).resolve().parent.parent / "nunet"
PACKAGES = sorted(p for p in NUNET.iterdir() if (p / "__init__.py").exists())


def test_there_are_packages_to_check() -> None:
    assert len(PACKAGES) >= 9


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_readme_has_the_required_sections(package: Path) -> None:
    readme = package / "README.md"
    assert readme.exists(), f"{package.name} has no README.md"
    text = readme.read_text()
    assert "@startuml" in text
    assert "@enduml" in text
    lowered = text.lower()
    assert "## public interface" in lowered
    assert "## how it is tested" in lowered
