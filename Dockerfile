FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The app runs as its own unprivileged user; the code and the collected static files stay root's
# (read-only to it). It writes only under /app/var: uploads, the SMS file gateway, beat's schedule.
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --home-dir /app --no-create-home --shell /usr/sbin/nologin crm
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-xx ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input
ENV MEDIA_ROOT=/app/var/media SMS_FILE_GATEWAY_DIR=/app/var/sms
# Named volumes mounted on these start as copies of them, with the same owner.
RUN mkdir -p /app/var/media /app/var/sms /app/var/beat \
    && chown crm:crm /app/var/media /app/var/sms /app/var/beat
VOLUME ["/app/var/media", "/app/var/sms", "/app/var/beat"]
USER crm
EXPOSE 8000
# No control socket: gunicorn would make one under $HOME, which is not the app's to write.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-tmp-dir", "/dev/shm", "--no-control-socket"]
