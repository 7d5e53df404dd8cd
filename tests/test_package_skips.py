"""The lane that installs every extra (``nox -s tests-extras``) runs pytest with ``--no-package-skips``:
there a test that would skip for a missing package fails, so a broken extra cannot hide its tests."""

import ast
from pathlib import Path

pytest_plugins = ["pytester"]

A_PACKAGE_SKIP_AND_ANOTHER = '''
import pytest

def test_needs_a_package():
    pytest.importorskip("conformance_no_such_package", reason="needs pip install '.[nothing]'")

def test_skips_for_another_reason():
    pytest.skip("the kernel's parent-death signal is Linux's")
'''


def test_a_skip_for_a_missing_package_fails_with_no_package_skips(pytester):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(A_PACKAGE_SKIP_AND_ANOTHER)
    pytester.runpytest("-p", "no:xdist").assert_outcomes(skipped=2)
    strict = pytester.runpytest("-p", "no:xdist", "--no-package-skips")
    strict.assert_outcomes(failed=1, skipped=1)
    strict.stdout.fnmatch_lines(["*missing package*--no-package-skips*needs pip install*"])


def test_no_test_module_skips_for_a_package_at_import():
    """A module-level importorskip skips during collection, where --no-package-skips cannot see it."""
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for statement in ast.parse(path.read_text()).body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)
                     and getattr(node.func, "attr", getattr(node.func, "id", None)) == "importorskip"]
            assert not calls, f"{path.name}:{statement.lineno} calls importorskip at import"
