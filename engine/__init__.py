"""Campaign engine: runs a regulator's enforcement-campaign notice encoded as YAML."""

__version__ = "0.1.0"
