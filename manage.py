#!/usr/bin/env python
"""Django's manage.py; `cmdesk` (the console script) does the same."""

from cmdesk.cli import main

if __name__ == "__main__":
    main()
