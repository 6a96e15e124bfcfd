"""For any WSGI server: ``gunicorn wsgi:app``, ``granian --interface wsgi wsgi:app``, ...

Settings come from FEEDSVC_* environment variables. This is the only place an app is built at
import time.
"""

import logging

from feedsvc import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
