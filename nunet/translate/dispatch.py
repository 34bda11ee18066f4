"""`translate(text, source)`: read the text, find out what it is, and build the ensemble."""

from __future__ import annotations

from typing import Any

from nunet.ensemble import EnsembleError, load_ensemble
from nunet.translate.compose import read_compose
from nunet.translate.document import build_document
from nunet.translate.errors import TranslateError
from nunet.translate.kubernetes import read_kubernetes
from nunet.translate.nomad import read_nomad
from nunet.translate.reading import DropLog
from nunet.translate.result import SOURCES, Source, Translation
from nunet.translate.texts import hcl_document, yaml_documents

INVALID = "the translated ensemble is not valid"


def translate(text: str, source: Source | None = None, *, name: str | None = None) -> Translation:
    """A `nunet/v1` ensemble document from a Kubernetes, Nomad or compose text.

    `source` None detects it: Kubernetes by `apiVersion`/`kind`, compose by `services`, Nomad
    by `job`/`Job` (JSON) or HCL. `name` names the ensemble when the source does not (compose
    without `name:`). Raises `TranslateError` naming the place in the source.
    """
    if source is not None and source not in SOURCES:
        raise TranslateError("source", f"{source!r} is not one of {', '.join(SOURCES)}")
    documents, hcl = _parse(text, source)
    found = source or detect(documents, hcl)
    log = DropLog()
    if found == "k8s":
        title, workloads = read_kubernetes(documents, log)
    elif found == "compose":
        project, workloads = read_compose(_single(documents, "a compose file"), log)
        title = project or name or "ensemble"
    else:
        title, workloads = read_nomad(
            hcl if hcl is not None else _single(documents, "a Nomad job"), log, hcl=hcl is not None
        )
    origins: dict[str, str] = {}
    document = build_document(title, workloads, log, found, origins)
    _check(document, origins)
    return Translation(document=document, dropped=tuple(log.items), source=found)


def _check(document: dict[str, Any], origins: dict[str, str]) -> None:
    """The last guard: what the ensemble reader refuses is refused here, each problem shown at
    the source of the allocation or node it is in (`services.api: execution.working_dir: ...`)."""
    try:
        load_ensemble(document)
    except EnsembleError as exc:
        shown = []
        for problem in exc.problems:
            head, _, rest = problem.path.partition(".")
            name, _, field = rest.partition(".")
            origin = origins.get(f"{head}.{name}")
            where = f"{origin or problem.path}{': ' + field if origin and field else ''}"
            shown.append(f"{where}: {problem.message}")
        first, *others = shown
        more = "".join(f"; {item}" for item in others)
        raise TranslateError("", f"{first}{more} ({INVALID})") from None


def detect(documents: list[Any], hcl: dict[str, Any] | None) -> Source:
    """Which system wrote these documents (see `translate`)."""
    if hcl is not None:
        return "nomad"
    first = documents[0] if documents else None
    if isinstance(first, dict):
        if "apiVersion" in first and "kind" in first:
            return "k8s"
        if "services" in first:
            return "compose"
        if "job" in first or "Job" in first or "TaskGroups" in first:
            return "nomad"
    raise TranslateError(
        "document",
        "cannot tell what this is: expected Kubernetes (apiVersion and kind), compose "
        "(services) or Nomad (job); name it with --from k8s|nomad|compose",
    )


def _parse(text: str, source: Source | None) -> tuple[list[Any], dict[str, Any] | None]:
    """YAML/JSON documents, or (for Nomad text that is not YAML/JSON) the HCL body."""
    if source == "nomad" and not text.lstrip().startswith("{"):
        return [], hcl_document(text)
    try:
        documents = yaml_documents(text)
    except TranslateError:
        if source is None and _looks_like_hcl(text):
            return [], hcl_document(text)
        raise
    if source is None and not any(isinstance(d, dict) for d in documents) and _looks_like_hcl(text):
        return [], hcl_document(text)
    if not documents:
        raise TranslateError("document", "empty: there is nothing to translate")
    return documents, None


def _looks_like_hcl(text: str) -> bool:
    return any(line.strip().startswith("job ") for line in text.splitlines())


def _single(documents: list[Any], what: str) -> Any:
    if len(documents) != 1:
        raise TranslateError("document", f"{what} is one document; this text has {len(documents)}")
    return documents[0]
