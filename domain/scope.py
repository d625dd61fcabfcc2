"""Who sees what: an organisation unit's path lies in a person's scope when the scope is its exact prefix.

Paths are ``/city/county/school/``, each ending in ``/``, so a plain prefix never mistakes ``/c/north/`` for
``/c/north-es/``. The tree is as deep as the site file makes it: the example city's runs city, county, township,
school and class (``/hechuan/junchuan/wangzhuang/wangzhuang-zxxx/wangzhuang-zxxx-c1/``), and a head teacher scoped
to a class sees nothing of the school above it.

The database's ``campusguard_within(path, scope)`` (migration 0017) is the same test; every
scoped query uses it, never ``LIKE``, which would read ``_`` and ``%`` in ids as wildcards.
"""

from __future__ import annotations

ROOT = "/"


def within(path: str | None, scope: str) -> bool:
    """Tell whether a unit at ``path`` lies in ``scope``; a row with no unit (a schoolless device) is the root's."""
    if not scope.endswith("/"):
        raise ValueError(f"a scope path ends in '/', got {scope!r}")
    return path.startswith(scope) if path is not None else scope == ROOT


def owns_tree(scope: str) -> bool:
    """Tell whether a scope is the whole tree: the root, or the organisation unit at its top (``/city/``).

    Records about nothing in the tree (a site load, a failed login under a name nobody has) are read by these
    scopes only: a county's officer has no business with them.
    """
    if not scope.endswith("/"):
        raise ValueError(f"a scope path ends in '/', got {scope!r}")
    return scope == ROOT or scope.count("/") == 2
