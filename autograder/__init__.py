"""Instructor tooling for the minigrad course: build, release, grade and report on nbgrader.

Run ``python -m autograder --help`` for the commands.
"""
