"""TOML reading on every Python the project supports: the standard library's ``tomllib`` from 3.11, its
backport ``tomli`` on 3.10 (pyproject.toml declares it there)."""

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = ["tomllib"]
