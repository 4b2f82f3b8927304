"""edgecloud: serve language models across edge devices and the cloud as one service."""

from edgecloud.catalogue import Catalogue, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.errors import EdgecloudError
from edgecloud.runtimes.base import Capability, InferenceRequest, Runtime

__all__ = [
    "Capability",
    "Catalogue",
    "EdgecloudError",
    "InferenceRequest",
    "ModelSpec",
    "NodeSettings",
    "Runtime",
]
__version__ = "0.1.0"
