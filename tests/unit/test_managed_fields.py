"""Who changed what, from managedFields: what an Edit YAML conflict tells the user (issue 16)."""

from app.domain.k8s.managed_fields import ChangedBy, changed_paths, who_changed

BEFORE = {"metadata": {"name": "web", "labels": {"app": "web"}},
          "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], "type": "ClusterIP"}}


def test_changed_paths_stop_at_lists_and_skip_what_the_server_keeps() -> None:
    after = {"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "resourceVersion": "9"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 81}]}, "status": {"x": 1}}
    assert changed_paths(BEFORE, after) == [("metadata", "labels", "tier"), ("spec", "ports"), ("spec", "type")]
    assert changed_paths(BEFORE, BEFORE) == []


def test_each_change_goes_to_the_manager_that_owns_the_field_newest_first() -> None:
    after = {"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 81}], "type": "ClusterIP"}}
    managed = [
        {"manager": "dockyard/alice", "operation": "Update", "time": "2026-12-06T10:00:00Z",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:ports": {}, "f:selector": {}}}},
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-06T11:00:00Z",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}}},
    ]
    assert who_changed(BEFORE, after, managed) == [
        ChangedBy("kubectl-edit", "Update", "2026-12-06T11:00:00Z", ("metadata.labels.tier",)),
        ChangedBy("dockyard/alice", "Update", "2026-12-06T10:00:00Z", ("spec.ports",)),
    ]
    assert who_changed(BEFORE, after, managed)[1].console_user == "alice"
    assert who_changed(BEFORE, after, managed)[0].console_user == ""


def test_a_removed_field_goes_to_the_newest_writer_and_no_record_still_lists_the_paths() -> None:
    after = {"metadata": {"name": "web", "labels": {}}, "spec": BEFORE["spec"]}
    managed = [{"manager": "helm", "operation": "Apply", "time": "2026-12-06T12:00:00Z", "fieldsV1": {}},
               {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-06T09:00:00Z", "fieldsV1": {}}]
    assert who_changed(BEFORE, after, managed) == [
        ChangedBy("helm", "Apply", "2026-12-06T12:00:00Z", ("metadata.labels.app",))]
    assert who_changed(BEFORE, after, None) == [ChangedBy("", "", "", ("metadata.labels.app",))]
