"""Validates custom resources (ScaledObject, ServiceMonitor, PrometheusRule, KafkaTopic) in
rendered manifests against the CRDs' own schemas kept in deploy/k8s/schemas/.

kubernetes-validate knows only the built-in kinds and lets custom ones pass with a warning, so
this fills the gap offline. Each schema file holds a CRD's `openAPIV3Schema` (its source and
version in `x-sma-source`). The API server rejects unknown fields under strict field
validation, so every object schema that lists its properties is closed here
(`additionalProperties: false`) unless the CRD marks it `x-kubernetes-preserve-unknown-fields`.
KEDA trigger metadata is a free string map in the CRD, so the kafka trigger's keys are checked
by name as well (a misspelled `lagTreshold` would otherwise be ignored by KEDA).

    python deploy/k8s/validate_crds.py rendered.yaml [more.yaml ...]   # exit 1 on any error
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"

# API groups served by Kubernetes itself (kubernetes-validate checks those).
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling"}

# The kafka scaler's metadata keys (KEDA docs, scalers/apache-kafka).
KAFKA_TRIGGER_REQUIRED = {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"}
KAFKA_TRIGGER_KEYS = KAFKA_TRIGGER_REQUIRED | {
    "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag",
    "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions",
    "partitionLimitation", "version", "sasl", "tls", "unsafeSsl", "commitPolicy",
}


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def is_custom(doc: dict[str, Any]) -> bool:
    group = _group(str(doc.get("apiVersion", "")))
    return group not in BUILTIN_GROUPS and not group.endswith(".k8s.io")


def schema_path(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS_DIR / f"{group}_{version}_{kind.lower()}.json"


def strict(schema: Any) -> Any:
    """The CRD schema as a JSON Schema that rejects unknown fields, like the API server."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    open_ended = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


def load_validator(api_version: str, kind: str) -> Draft7Validator | None:
    path = schema_path(api_version, kind)
    if not path.is_file():
        return None
    schema = strict(json.loads(path.read_text())["openAPIV3Schema"])
    # Every object needs a name, whatever its CRD says about metadata.
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    }
    return Draft7Validator(schema)


def _kafka_trigger_errors(doc: dict[str, Any]) -> list[str]:
    errors = []
    for i, trigger in enumerate(doc.get("spec", {}).get("triggers", [])):
        if trigger.get("type") != "kafka":
            continue
        keys = set(trigger.get("metadata", {}))
        where = f"spec.triggers[{i}].metadata"
        errors += [f"{where}: missing {k}" for k in sorted(KAFKA_TRIGGER_REQUIRED - keys)]
        errors += [f"{where}: unknown key {k} for the kafka scaler" for k in sorted(keys - KAFKA_TRIGGER_KEYS)]
    return errors


def validate_document(doc: dict[str, Any]) -> list[str]:
    """Errors of one custom resource, each prefixed with its kind/name; [] when valid."""
    kind, api_version = str(doc.get("kind")), str(doc.get("apiVersion"))
    name = f"{kind}/{doc.get('metadata', {}).get('name', '?')}"
    validator = load_validator(api_version, kind)
    if validator is None:
        return [f"{name}: no schema for {api_version} {kind} in {SCHEMAS_DIR.name}/ (add the CRD's schema)"]
    errors = [
        f"{name}: {'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if kind == "ScaledObject":
        errors += [f"{name}: {e}" for e in _kafka_trigger_errors(doc)]
    return errors


def validate(docs: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """(how many custom resources were checked, every error)."""
    checked, errors = 0, []
    for doc in docs:
        if doc and is_custom(doc):
            checked += 1
            errors += validate_document(doc)
    return checked, errors


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: validate_crds.py RENDERED.yaml [...]", file=sys.stderr)
        return 2
    total, failed = 0, False
    for arg in argv:
        try:
            docs = list(yaml.safe_load_all(Path(arg).read_text()))
        except (OSError, yaml.YAMLError) as exc:
            print(f"{arg}: cannot read ({exc})", file=sys.stderr)
            return 2
        checked, errors = validate(docs)
        total += checked
        for error in errors:
            print(f"{arg}: {error}")
        failed = failed or bool(errors)
    print(f"validate_crds: {total} custom resources checked, {'errors found' if failed else 'all valid'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
