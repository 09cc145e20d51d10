"""Dispatch: the Celery app, the generate canvas and the demo worker.

This layer talks to the data layer and Celery only; it never imports widgets.
"""
