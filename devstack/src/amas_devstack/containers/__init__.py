"""Running compose.yaml for real here: podman in private namespaces (engine), locally made images (images)."""
