"""For any WSGI server: ``gunicorn wsgi:app``, ``granian --interface wsgi wsgi:app``, ...

Settings come from FEEDSVC_* environment variables. This is the only place an app is built at
import time.
"""

from feedsvc import create_app, logs

logs.configure()
app = create_app()
