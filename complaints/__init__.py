"""Complaints triage: the domain core shared by the embedded default and the AWS deployment."""

__version__ = "0.1.0"
