"""opscope: an open-source AIOps platform.

Collect alerts, logs, metrics, tickets and changes; find what is wrong and why;
react safely; show it to people.
"""

__version__ = "0.1.0"
