"""Screens of the console: dashboard, service detail, help; the App that hosts them."""
