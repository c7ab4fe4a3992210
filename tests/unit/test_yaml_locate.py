"""A problem the API server reports by field path is shown on the YAML line where that field is written."""

from __future__ import annotations

from app.domain.creation import ObjectProblem
from app.domain.yaml import locate

TEXT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-v1
spec:
  template:
    spec:
      containers:
      - name: c
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - name: http-0
    port: 80
    nodePort: 99999
"""


def test_locates_a_field_in_the_right_document() -> None:
    assert locate(TEXT, "Service", "web", "spec.ports[0].nodePort") == (20, 15)
    assert locate(TEXT, "Deployment", "web-v1", "spec.template.spec.containers[0].image") == (10, 16)


def test_a_missing_field_points_at_its_closest_parent() -> None:
    assert locate(TEXT, "Service", "web", "spec.ports[0].targetPort") == (18, 5)


def test_unknown_object_or_broken_text_gives_nothing() -> None:
    assert locate(TEXT, "Service", "other", "spec") is None
    assert locate("a: [", "Service", "web", "spec") is None


def test_problem_message_names_the_line() -> None:
    p = ObjectProblem("Service", "web", "Invalid value: 99999", "spec.ports[0].nodePort").located_in(TEXT)
    assert (p.line, p.column) == (20, 15)
    assert "line 20, column 15" in str(p)
