"""The component's exports: what componentize-py calls. `sandkit plugin build` makes the entry
module import the author's module (which registers the plugin) and this class as `WitWorld`."""

from __future__ import annotations

from typing import Any

from componentize_py_types import Err  # type: ignore[import-not-found]

from . import plugin as _plugin
from .config import Config, ConfigError
from .info import PluginInfo
from .records import Batch


def _wit_info(info: PluginInfo) -> Any:
    from wit_world.imports import types  # type: ignore[import-not-found]

    kinds = {"int": "INT", "uint": "UINT", "float": "FLOAT", "bool": "BOOLEAN", "text": "TEXT"}
    return types.PluginInfo(
        info.name,
        info.version,
        info.description,
        info.default_interval_ms,
        info.min_interval_ms,
        info.max_interval_ms,
        [
            types.MeasurementInfo(
                m.name,
                types.Category[m.category.name],
                m.description,
                [types.TagInfo(n, d) for n, d in m.tags],
                [
                    types.FieldInfo(f.name, types.FieldKind[kinds[f.kind.value]], f.unit, f.description)
                    for f in m.fields
                ],
            )
            for m in info.measurements
        ],
    )


class WitWorld:
    """Every export of the three worlds; a component has the ones its world declares."""

    def describe(self) -> Any:
        return _wit_info(_plugin.registered().info)

    def init(self, config: str) -> None:
        try:
            cfg = Config.from_json(config)
            _plugin.registered().init(cfg)
        except (_plugin.PluginError, ConfigError, RuntimeError) as e:
            raise Err(str(e)) from None

    def collect(self) -> None:
        try:
            _plugin.registered().collect()
        except (_plugin.PluginError, RuntimeError) as e:
            raise Err(str(e)) from None

    def handle(self, content_type: str, body: bytes) -> None:
        try:
            _plugin.registered().handle(content_type, body)
        except (_plugin.PluginError, RuntimeError) as e:
            raise Err(str(e)) from None

    def process(self, batch: Any) -> bytes:
        try:
            b = Batch(batch.source, batch.data, batch.ends)
            return _plugin.registered().process(b)
        except (_plugin.PluginError, RuntimeError, ValueError) as e:
            raise Err(str(e)) from None
