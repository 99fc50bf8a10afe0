"""Kurz: a self-hosted B2B URL shortener."""
