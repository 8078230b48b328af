"""Everything the bot says to people, in one catalogue per audience and one place per language."""
