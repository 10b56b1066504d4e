"""Pure normalisers: one module per LMS format, each turning a decoded payload into
canonical `LearningEvent`s. They import only the standard library, pydantic and schemas/."""
