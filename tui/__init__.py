"""The front end: the `grandrounds` command line (`cli`) and the Textual app (`app`). No domain logic here."""

__all__ = ["app", "cli", "safe_text"]
