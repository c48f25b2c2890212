"""lima-tk: hand-craft a high-quality multi-turn chat dataset for fine-tuning."""

__version__ = "0.1.0"
