"""What a run leaves for people: the JSON summary and its rendering."""
