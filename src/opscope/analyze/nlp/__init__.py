"""Natural-language help without a language model: similar past incidents (TF-IDF over
what incidents are made of), plain-English incident summaries built only from recorded
fields, and a parser that reads plain-English questions into structured queries.

Every result carries what it rests on: the shared features behind a similarity score,
the fields behind each summary sentence, the interpretation of a question and the words
that were not understood.
"""
