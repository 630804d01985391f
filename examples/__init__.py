"""Examples of extending fancare with data (and a brand's own Rasa SDK actions), no fancare Python change."""
