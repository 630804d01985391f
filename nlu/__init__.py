"""Natural-language understanding: Rasa-format training data, sentence encoders, intent and entities."""
