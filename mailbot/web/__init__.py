"""The staff web interface (issue 18): server-rendered pages over the same use cases the CLI calls.

``mailbot web`` serves it with uvicorn on loopback; in production it sits behind a TLS reverse
proxy. The pages add no rules of their own: they read ``App.views``, log in through
``App.accounts`` and act through ``App.staff``, ``App.tickets`` and friends.
"""
