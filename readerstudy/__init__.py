"""Mirage reader studies: the Django project and app."""
