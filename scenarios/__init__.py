"""Clinical cases: the scenario format (`model`), safe loading and validation (`yamlsafe`, `loader`),
the bundled `library/`, importers of external cases (`importers`), fairness variants (`variants`)."""

__all__ = ["importers", "loader", "model", "variants", "writer", "yamlsafe"]
