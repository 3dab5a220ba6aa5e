"""Metrics: math on images or features, with the protocol stated where they are reported."""
