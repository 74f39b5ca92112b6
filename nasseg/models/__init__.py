"""Encoder, baselines and the model zoo."""
from .encoder import MobileNetV2Encoder, load_encoder_weights
from .zoo import PUBLISHED, SegmentationModel, arch_info, build_model, count_params, list_archs, strip_aux

__all__ = ["MobileNetV2Encoder", "load_encoder_weights", "PUBLISHED", "SegmentationModel", "arch_info",
           "build_model", "count_params", "list_archs", "strip_aux"]
