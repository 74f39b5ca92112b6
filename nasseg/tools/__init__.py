"""The library side of the everyday tools (not pipeline stages): browse trial stores
(:mod:`.trials`), architecture cards (:mod:`.cards`), predict and export."""
