"""Image folders: one subfolder per class, decoded in parallel and cached (placeholder, being written)."""

from __future__ import annotations

__all__ = ["load_image_folder"]


def load_image_folder(path, **options):
    raise NotImplementedError("load_image_folder")
