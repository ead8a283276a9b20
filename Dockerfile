# One image for the API and the worker: `her2-adapter serve` or `her2-adapter worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adapter ./adapter
COPY workers ./workers
# mappings/ and examples/ are built into the package as data (pyproject.toml): no variable needed.
COPY mappings ./mappings
COPY examples ./examples
RUN pip install . && useradd --create-home --uid 10001 adapter
USER adapter
EXPOSE 8000
CMD ["her2-adapter", "serve", "--host", "0.0.0.0", "--port", "8000"]
