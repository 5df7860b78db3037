"""Traces (import: ``compat``, ``config``, ``genai``, ``redact``, ``catalog``).

``provider``: the record-everything sampler, the TracerProvider, the export chain and the
global tracer provider that follows the live handle; ``tail``: the tail decision;
``domain_spans``: the task/agent/tool/GenAI span helpers of the public API.
"""
