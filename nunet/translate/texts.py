"""Source text → parsed data: YAML (one or many documents), JSON and HCL2, errors by line."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from nunet.translate.errors import TranslateError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, except that `8080:30` stays text: compose port pairs are
    not the base-60 numbers YAML 1.1 would make of them."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if not (tag == "tag:yaml.org,2002:int" or tag == "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_INT = re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
)
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def yaml_documents(text: str) -> list[Any]:
    """Every non-empty document of a YAML (or JSON) text."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise TranslateError(where, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise TranslateError("YAML", f"not valid YAML: {exc}") from None


def json_document(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranslateError(
            f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}"
        ) from None


def hcl_document(text: str) -> dict[str, Any]:
    """An HCL2 file as python-hcl2 reads it: strings unquoted, heredocs as text, blocks marked."""
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    options = hcl2.SerializationOptions(
        with_comments=False, strip_string_quotes=True, preserve_heredocs=False
    )
    try:
        data = hcl2.loads(text, serialization_options=options)
    except UnexpectedInput as exc:
        line, column = getattr(exc, "line", "?"), getattr(exc, "column", "?")
        token = getattr(exc, "token", None)
        found = f": unexpected {str(token)!r}" if token is not None else ""
        raise TranslateError(f"line {line}, column {column}", f"not valid HCL{found}") from None
    except (LarkError, ValueError) as exc:
        raise TranslateError("HCL", f"not valid HCL: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise TranslateError("HCL", "not valid HCL: the file holds no blocks")
    return data
