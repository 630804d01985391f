"""The container's config, made at image build time: the repository's `config.yml` with the sections
of `docker/overlay.yml` merged on top (store URL and Telegram token from the environment, JSON logs,
the ops endpoint on 0.0.0.0). Generated rather than copied, so the container always answers like
the `config.yml` it was built from.

    python -m bot.ops.container_config config.yml docker/overlay.yml > container.yml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from nlu.yamlfile import DataError


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: mappings merge key by key, anything else (lists too) is replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _mapping(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise DataError("file not found", path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DataError("top level must be a mapping", path, 1)
    return data


def container_config(base: Path, overlay: Path) -> str:
    """The merged config as YAML text (comments are not kept; the sources hold them)."""
    head = f"# generated at image build from {base.name} and {overlay.as_posix()} (bot/ops/container_config.py)\n"
    return head + yaml.safe_dump(merge(_mapping(base), _mapping(overlay)), sort_keys=False, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bot.ops.container_config CONFIG OVERLAY > OUT", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(container_config(Path(args[0]), Path(args[1])))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
