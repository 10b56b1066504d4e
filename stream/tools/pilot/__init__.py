"""`tierwatch pilot`: a pilot team against comparison teams, before and during the pilot."""
