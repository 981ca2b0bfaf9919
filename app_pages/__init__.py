"""The app's pages, one thin script each (widgets, one call into scaling.services, charts); ui/ holds what they share."""
