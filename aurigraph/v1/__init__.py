"""Generated from protos/aurigraph/v1 by `make protos`. Do not edit."""
