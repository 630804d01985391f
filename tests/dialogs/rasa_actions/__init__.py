"""Custom actions written against the real `rasa_sdk`, served by `python -m rasa_sdk` in the action tests."""
