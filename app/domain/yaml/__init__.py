"""The YAML gate: the only way YAML from a user becomes objects the console sends to Kubernetes.

Every path that accepts YAML (Edit by YAML creation, the wizard's Edit Mode, Edit YAML of an existing
object) calls `parse_manifests` or `parse_many`; everything the console shows as YAML is written by
`dump_yaml`. Pure functions: no I/O, no Kubernetes client.

How it reads YAML (and why):
* The event stream comes from libyaml (PyYAML's C parser): go-yaml v2, which kubectl and the API
  server use, is a port of libyaml, so both sides agree on the grammar; and it parses 256 KiB in tens
  of milliseconds where the pure-Python parsers (PyYAML, ruamel.yaml) need about a second.
* The events are turned into plain dicts/lists here, not by a library constructor, so that every
  node keeps its line and column and nothing is ever expanded: anchors, aliases (hence alias bombs),
  merge keys and non-core tags are refused as they are met, before anything is built from them.
* Scalars are resolved with the YAML 1.2 core schema. Where YAML 1.1 readers such as kubectl would
  read the same plain text differently (`on`, `yes`, `y`, `0755`, `1:30`, `1_000`, `2024-01-01`, ...),
  the gate reports it and asks the user to quote it or write what they mean: it never guesses.
* JSON is YAML: a manifest written as JSON goes through the same path (libyaml accepts JSON's tab
  indentation inside flow collections), so it is accepted exactly like the same manifest in YAML.

Decisions (see `parse_manifests`): a document with no content at all (only comments or whitespace,
e.g. between two `---`) is skipped; an explicit `null` or `~` document is refused like any other
non-mapping. `metadata.generateName` is refused: the console needs names to show and link objects.
Secrets of type `kubernetes.io/service-account-token` are refused (they mint API credentials).
"""

from __future__ import annotations

from app.domain.yaml.dump import dump_yaml
from app.domain.yaml.gate import parse_manifests, parse_many, strip_server_fields
from app.domain.yaml.kinds import CREATABLE_KINDS, KIND_API_VERSIONS
from app.domain.yaml.locate import locate
from app.domain.yaml.problems import MAX_BYTES, MAX_DEPTH, MAX_DOCUMENTS, GateResult, Manifest, Problem
from app.domain.yaml.reader import format_path

__all__ = [
    "CREATABLE_KINDS",
    "KIND_API_VERSIONS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "GateResult",
    "Manifest",
    "Problem",
    "dump_yaml",
    "format_path",
    "locate",
    "parse_manifests",
    "parse_many",
    "strip_server_fields",
]
