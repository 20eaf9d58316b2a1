"""gunicorn reads this file from the working directory (the image's /app) on start.

Freelancer tokens are masked in the access log (`verify_site.logfilters`); everything else keeps
gunicorn's defaults and the command-line flags in the Dockerfile and docker-compose.yml."""

logger_class = "verify_site.logfilters.TokenMaskingGunicornLogger"
