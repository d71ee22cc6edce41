"""The job APIs fastwait speaks (filled in by the providers work)."""

from fastwait.providers._base import ApiRequest, Provider

__all__ = ["ApiRequest", "Provider"]
