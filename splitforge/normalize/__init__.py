from splitforge.normalize.text import add_normalized, normalize_text, text_hashes

__all__ = ["add_normalized", "normalize_text", "text_hashes"]
