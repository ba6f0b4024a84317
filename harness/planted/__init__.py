"""The planted-rank benchmark (stage ``planted``, study ``studies/planted``): a teacher with known low-rank updates,
so where rank is needed is known."""
