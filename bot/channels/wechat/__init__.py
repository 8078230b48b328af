"""WeChat Official Account: callback, crypto, parsing, passive replies and pushed notices."""
