"""Gunicorn's settings for the teeny app: the "gunicorn wrapper" of the original recipe.

Gunicorn reads ./gunicorn.conf.py from its working directory, so in the image ``gunicorn`` alone
starts it. Environment variables override, as Gunicorn documents: PORT, WEB_CONCURRENCY,
FORWARDED_ALLOW_IPS, and SCRIPT_NAME (where nginx mounts the app, read on every request).
"""
import os

wsgi_app = "app:app"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]  # all interfaces: inside a container
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))  # pre-fork: the arbiter and N workers
worker_class = "sync"  # one request at a time per worker, like foobar's gateway
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on SIGTERM, this long to finish requests in flight
# Each worker's heartbeat is a file the arbiter watches: in memory (/dev/shm, a tmpfs in every
# container), not on /tmp — that works with a read-only root filesystem, and a disk-backed /tmp
# can stall a worker's heartbeat long enough to get it killed (Gunicorn's docs say the same).
worker_tmp_dir = "/dev/shm"
accesslog = "-"  # to stdout: `docker compose logs wsgi`
errorlog = "-"
