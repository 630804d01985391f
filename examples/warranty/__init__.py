"""The warranty-claim example: flows.yml, nlu.yml, conversations.yml and the brand's actions.py (README)."""
