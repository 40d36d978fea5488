"""starlet-py: a lean prefork WSGI server for Python, after Perl's Starlet."""

__version__ = "0.1.0"
