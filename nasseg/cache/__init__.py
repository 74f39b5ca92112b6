"""The HDF5 feature cache of stage 1: frozen-encoder taps, labels and teacher logits."""
from .store import CacheSpec, FeatureCache, fingerprint_mismatch, write_cache

__all__ = ["CacheSpec", "FeatureCache", "fingerprint_mismatch", "write_cache"]
