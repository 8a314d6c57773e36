"""Two corrections to citeproc-py 0.11, applied once on import.

**Name initials.** ``initialize="false"`` on ``cs:name`` (MLA, Chicago) means "do not turn given
names into initials"; citeproc-py ignores it and writes "Austen, J." for "Austen, Jane". Given
names are now kept whole there (ones written as bare initials still get ``initialize-with``).

**Group suppression.**
CSL 1.0.2 (§ Group): a group is suppressed when at least one of its rendering elements *calls*
a variable and every called variable is empty; variables only *tested* in ``cs:choose``
conditions are not called. citeproc-py decides "calls a variable" statically, counting the
variables inside every ``cs:choose`` branch, so a group like GB/T 7714-2015's document type
code ``[M]`` (a literal ``M`` beside a macro whose only variables sit in untaken branches) is
dropped: "包忠文. 当代中国文艺理论史. 南京…" instead of "…当代中国文艺理论史[M]. 南京…".

The corrected rule: a child that renders nothing counts as calling a variable only when it holds
a variable outside any ``cs:choose`` (or raised the library's ``VariableError``).
"""

from __future__ import annotations

from typing import Any

from citeproc import model
from citeproc.source import VariableError

_VARIABLE_ELEMENTS = (model.Names, model.Date, model.Number)


def _calls_unconditionally(element: Any) -> bool:
    if isinstance(element, model.Choose):
        return False
    if isinstance(element, model.Text):
        if "variable" in element.attrib:
            return element.calls_variable()
        if "macro" in element.attrib:
            return _calls_unconditionally(element.get_macro(element.get("macro")))
        return False
    if isinstance(element, _VARIABLE_ELEMENTS):
        return True
    if isinstance(element, model.Label):
        return False
    return any(_calls_unconditionally(child) for child in element.iterchildren())


def _group_process(self: Any, item: Any, context: Any = None, **kwargs: Any) -> Any:
    output = []
    variable_called = variable_rendered = False
    delimiter = self.get("delimiter", "")
    for child in self.iterchildren():
        try:
            if isinstance(child, model.Choose):
                text = child.render(item, context=context, delimiter=delimiter, **kwargs)
            else:
                text = child.render(item, context=context, **kwargs)
        except VariableError:
            variable_called = True
            continue
        if text is not None:
            output.append(text)
            if child.calls_variable():
                variable_called = variable_rendered = True
        elif _calls_unconditionally(child):
            variable_called = True
    if output and (not variable_called or variable_rendered):
        return self.join(output)
    raise VariableError


_initialize = model.Name.initialize


def _name_initialize(self: Any, given: str, mark: str, context: Any) -> str:
    if self.get("initialize") == "false" and any(len(p.strip(".")) > 1 for p in given.replace("-", " ").split()):
        return given
    return _initialize(self, given, mark, context)


def apply() -> None:
    if getattr(model.Group.process, "__name__", "") != _group_process.__name__:
        model.Group.process = _group_process  # type: ignore[method-assign]
    if getattr(model.Name.initialize, "__name__", "") != _name_initialize.__name__:
        model.Name.initialize = _name_initialize  # type: ignore[method-assign]
