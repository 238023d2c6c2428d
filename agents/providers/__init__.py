"""The two built-in model providers: `local` (the embedded SmolLM2 GGUF via llama-cpp-python, with
`lazy_grammar`) and `scripted` (deterministic replies for tests and benchmarks). `agents.gateway`
registers them with litellm; neither imports litellm itself."""

__all__ = ["lazy_grammar", "local", "scripted"]
