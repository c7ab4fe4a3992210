"""Where a field of a document is written in the text, so a server-side problem lands on its line."""

from __future__ import annotations

import re
from typing import Any

import yaml

from app.domain.yaml.reader import EventLoader


def locate(text: str, kind: str, name: str, path: str) -> tuple[int, int] | None:
    """Where (1-based line, column) the field `path` (e.g. "spec.ports[0].nodePort") of the document
    `kind`/`name` is written in `text`: so a problem the API server reports by field lands on its line.

    Only for text the gate has accepted (no aliases); returns the deepest part of the path that exists.
    """
    steps: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]|\[[^\]]*\]", path or ""):
        if part.startswith("[") and part[1:-1].isdigit():
            steps.append(int(part[1:-1]))
        else:
            steps.append(part.strip("[]"))
    try:
        documents = list(yaml.compose_all(text, Loader=EventLoader))
    except yaml.YAMLError:
        return None

    def child(node: Any, step: str | int) -> Any:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode) and step < len(node.value):
            return node.value[step]
        if isinstance(step, str) and isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    return value
        return None

    for doc in documents:
        if not isinstance(doc, yaml.MappingNode):
            continue
        meta = child(doc, "metadata")
        if getattr(child(doc, "kind"), "value", None) != kind or getattr(child(meta, "name"), "value", None) != name:
            continue
        node = doc
        for step in steps:
            nxt = child(node, step)
            if nxt is None:
                break
            node = nxt
        return node.start_mark.line + 1, node.start_mark.column + 1
    return None
