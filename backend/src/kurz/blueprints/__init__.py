"""Thin routes: validate, authorise, call models, answer."""
