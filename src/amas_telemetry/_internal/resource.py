"""The service's OTel ``Resource``, built once per ``configure()`` from the settings."""

from __future__ import annotations

import uuid
from typing import Any

from opentelemetry.sdk.resources import Resource

from amas_telemetry import semconv as sc
from amas_telemetry._internal.config.settings import Settings

__all__ = ["HashedOnceResource", "service_resource"]


class HashedOnceResource(Resource):
    """A Resource whose hash is computed once.

    The OTLP encoders group every exported span and log record by resource, and the SDK's
    ``Resource.__hash__`` serialises all attributes to JSON on each call: per item work for
    a value that never changes (a Resource is immutable).
    """

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def service_resource(settings: Settings) -> Resource:
    """Service name, environment, a fresh instance id, the version, then ``resource_attributes``."""
    attributes: dict[str, Any] = {
        sc.SERVICE_NAME: settings.service_name,
        sc.DEPLOYMENT_ENVIRONMENT_NAME: settings.environment,
        sc.SERVICE_INSTANCE_ID: str(uuid.uuid4()),
    }
    if settings.service_version:
        attributes[sc.SERVICE_VERSION] = settings.service_version
    attributes.update(settings.resource_attributes)
    return HashedOnceResource(Resource.create(attributes))
