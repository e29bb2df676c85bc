"""Surviving real Douyin: identities (cookie + proxy + UA), pacing, risk signals, ``doctor``."""
