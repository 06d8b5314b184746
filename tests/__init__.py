"""The course's test suite. Its support modules (fixtures, the adversarial corpus, known-wrong answers,
the browser driver) are imported as ``tests.<module>``."""
