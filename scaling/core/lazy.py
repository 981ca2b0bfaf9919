"""A package's public names imported on first use (PEP 562), so that importing one name of a package
costs that name's module, not every module the package names: the app's first chart waits for it.

    __getattr__, __dir__, __all__ = lazy.attach(__name__, {".answers": "analysis point_estimates", ...})

A name that is also a submodule's name (fit.backtest the function, fit/backtest.py the module) stays
the function: Python binds a submodule to its package's attribute when it is first imported, and the
package's module class (the documented way to customise a module's attribute setting) declines that
one binding (tests/unit/test_lazy_imports.py checks every name after every submodule is imported).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterable


def attach(package: str, names: dict[str, str], submodules: Iterable[str] = ()
           ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """The `__getattr__`, `__dir__` and `__all__` of `package`.

    names: module (".x" relative to the package, as in an import statement) -> its public names,
    space-separated; `attr as name` exports a module's `attr` as `name`. submodules: the package's
    modules that are public names themselves (in __all__; every submodule is an attribute, as an
    eagerly imported package's are).
    """
    where: dict[str, tuple[str, str]] = {}
    for module, words in names.items():
        for word in words.replace(" as ", "@").split():
            attr, _, name = word.partition("@")
            if (name or attr) in where:
                raise ValueError(f"{package}: {name or attr!r} is named twice")
            where[name or attr] = (module, attr)
    subs = tuple(submodules)

    def __getattr__(name: str) -> object:
        if name not in where:  # any submodule, as once the package imported them all (services.answers...)
            if name in subs or not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = where[name]
        value = getattr(importlib.import_module(module, package), attr)
        setattr(sys.modules[package], name, value)  # the next look-up is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*sys.modules[package].__dict__, *where, *subs})

    class Package(types.ModuleType):
        def __setattr__(self, name: str, value: object) -> None:
            if name in where and isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}":
                return  # the import system binding fit/backtest.py over fit.backtest, the function
            super().__setattr__(name, value)

    sys.modules[package].__class__ = Package
    return __getattr__, __dir__, [*where, *subs]
